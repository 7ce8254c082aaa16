/**
 * Shared pieces of the agent tests: real clients (kdig with RFC 8427 JSON output, dig), raw
 * UDP/TCP exchanges for what no client will send, and a zone file on disk.
 */
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtemp, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { frameAll, readFrames } from '../../src/dns/framing.js';
import { configureLogger } from '../../src/observability/logger.js';

// Agents run inside the test process: keep their info lines out of the test output.
configureLogger('warn');

const exec = promisify(execFile);

export interface JsonRR {
  NAME: string;
  TYPE: number;
  TYPEname: string;
  TTL: number;
  RDATAHEX?: string;
  [k: string]: unknown;
}

/** kdig's RFC 8427 output (the fields the tests use). */
export interface KdigAnswer {
  ID: number;
  AA: number;
  TC: number;
  RD: number;
  RA: number;
  RCODE: number;
  QNAME: string;
  answerRRs?: JsonRR[];
  authorityRRs?: JsonRR[];
  additionalRRs?: JsonRR[];
}

export async function kdig(server: string, port: number, args: readonly string[]): Promise<KdigAnswer> {
  const { stdout } = await exec('kdig', [`@${server}`, '-p', String(port), '+json', '+timeout=2', '+retry=0', ...args]);
  return JSON.parse(stdout) as KdigAnswer;
}

export async function dig(server: string, port: number, args: readonly string[]): Promise<string> {
  const { stdout } = await exec('dig', [`@${server}`, '-p', String(port), '+time=2', '+tries=1', '+nocookie', ...args]);
  return stdout;
}

export async function writeZone(text: string, name = 'zone.db'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dnssync-agent-'));
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

/** One datagram out, the first one back (or undefined after `timeoutMs`). */
export function udpExchange(host: string, port: number, msg: Buffer, timeoutMs = 2000): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    const t = setTimeout(() => {
      s.close();
      resolve(undefined);
    }, timeoutMs);
    s.on('message', (m) => {
      clearTimeout(t);
      s.close();
      resolve(m);
    });
    s.send(msg, port, host);
  });
}

/**
 * Writes every message on one TCP connection in a single write (pipelined) and collects
 * `expect` answers, in whatever order they come.
 */
export function tcpPipeline(host: string, port: number, msgs: readonly Buffer[], expect = msgs.length, timeoutMs = 5000): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    const out: Buffer[] = [];
    const t = setTimeout(() => {
      sock.destroy();
      reject(new Error(`tcp: got ${out.length} of ${expect} answers`));
    }, timeoutMs);
    sock.on('connect', () => sock.write(frameAll(msgs)));
    readFrames(sock, (m) => {
      out.push(m);
      if (out.length === expect) {
        clearTimeout(t);
        sock.destroy();
        resolve(out);
      }
    });
    sock.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

/** A query in wire format, built by hand so tests control every bit. */
export function rawQuery(name: string, qtype: number, opts: { id?: number; rd?: boolean; edns?: number; opcode?: number; qclass?: number } = {}): Buffer {
  const labels = name === '' ? [] : name.split('.');
  const qname = Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])), Buffer.from([0])]);
  const h = Buffer.alloc(12);
  h.writeUInt16BE(opts.id ?? 0x1234, 0);
  h[2] = ((opts.opcode ?? 0) << 3) | (opts.rd === false ? 0 : 1);
  h.writeUInt16BE(1, 4);
  h.writeUInt16BE(opts.edns === undefined ? 0 : 1, 10);
  const q = Buffer.alloc(4);
  q.writeUInt16BE(qtype, 0);
  q.writeUInt16BE(opts.qclass ?? 1, 2);
  const parts = [h, qname, q];
  if (opts.edns !== undefined) {
    const opt = Buffer.alloc(11);
    opt.writeUInt16BE(41, 1);
    opt.writeUInt16BE(opts.edns, 3);
    parts.push(opt);
  }
  return Buffer.concat(parts);
}

export function rcodeOf(msg: Buffer): number {
  return (msg[3] as number) & 0x0f;
}

/** A port free for both UDP and TCP on `host` right now (for peers that cannot take port 0). */
export async function freePort(host: string): Promise<number> {
  for (;;) {
    const s = dgram.createSocket('udp4');
    const port = await new Promise<number>((resolve, reject) => {
      s.once('error', reject);
      s.bind(0, host, () => resolve(s.address().port));
    });
    const tcpOk = await new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, host, () => srv.close(() => resolve(true)));
    });
    s.close();
    if (tcpOk) return port;
  }
}

/** Puts `addr` on lo for daemons that only bind addresses an interface holds. */
export async function ensureLoopback(addr: string): Promise<void> {
  try {
    await exec('ip', ['addr', 'add', `${addr}/32`, 'dev', 'lo']);
  } catch (err) {
    if (!/File exists|already assigned/.test(String((err as { stderr?: string }).stderr ?? err))) throw err;
  }
}
