/**
 * Robustness: 100,000+ random and mutated packets against a running `dnssync agent` process,
 * over UDP and TCP — bad lengths, compression pointer loops, label overruns, truncated
 * headers, huge counts, broken OPT records. The process must not crash, its memory must stay
 * bounded, every answer it sends must be a well-formed response, and a fixed set of queries
 * must get byte-identical answers before and after.
 *
 * Traffic is sent in bounded batches; each batch ends with a sentinel query whose answer
 * says the agent has read everything before it (one socket, processed in order).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import packet from 'dns-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireCurrentDist } from '../util/dist.js';
import { waitFor } from '../util/wait.js';
import { rawQuery, udpExchange, writeZone } from './helpers.js';
import { mulberry32 } from '../util/prng.js';

const HOST = '127.0.10.3';
const MAIN = 'dist/src/cli/main.js';
const UDP_PACKETS = 80_000;
const TCP_PACKETS = 24_000;

const ZONE = `$ORIGIN fuzz.test.
$TTL 60
@ IN SOA ns hostmaster 7 3600 600 86400 30
@ IN NS ns
ns IN A 10.0.0.1
www IN A 10.0.0.2
alias IN CNAME www
*.w IN TXT "wild"
mx IN MX 5 www
`;

const NAMES = ['www.fuzz.test', 'alias.fuzz.test', 'x.w.fuzz.test', 'nope.fuzz.test', 'mx.fuzz.test', 'fuzz.test', 'outside.example'];
const TYPES = [1, 28, 5, 15, 16, 6, 2, 255, 252, 251, 41, 65535];

const prng = mulberry32;

function fuzzPacket(rnd: () => number, i: number): Buffer {
  const int = (n: number): number => Math.floor(rnd() * n);
  const valid = (): Buffer => rawQuery(NAMES[int(NAMES.length)] as string, TYPES[int(TYPES.length)] as number, { id: i & 0xffff, edns: rnd() < 0.5 ? 512 + int(4000) : undefined });
  switch (int(10)) {
    case 0: {
      const b = Buffer.alloc(int(600));
      for (let k = 0; k < b.length; k++) b[k] = int(256);
      return b;
    }
    case 1: {
      const b = valid();
      for (let k = 0, n = 1 + int(6); k < n; k++) b[int(b.length)] = int(256);
      // Keep it a query half of the time so the mutation reaches past the header check.
      if (rnd() < 0.5) b[2] = (b[2] as number) & 0x7f;
      return b;
    }
    case 2:
      return valid().subarray(0, int(30));
    case 3: {
      const b = valid();
      b.writeUInt16BE(int(65536), 4 + 2 * int(4));
      return b;
    }
    case 4: {
      // Compression pointer loops: in the question, and in an additional record.
      const h = Buffer.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, rnd() < 0.5 ? 0 : 1]);
      const loop = rnd() < 0.5 ? [0xc0, 12] : [1, 0x61, 0xc0, 12 + int(4)];
      return Buffer.concat([h, Buffer.from(loop), Buffer.from([0, 1, 0, 1, 0xc0, 12, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0])]);
    }
    case 5: {
      // Label longer than what follows, or longer than 63.
      const h = Buffer.from([0, 2, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
      return Buffer.concat([h, Buffer.from([rnd() < 0.5 ? 63 : 64 + int(192), 0x61, 0x62])]);
    }
    case 6: {
      // OPT with a wrong RDLENGTH or an option running past it.
      const b = rawQuery('www.fuzz.test', 1, { id: i & 0xffff, edns: 1232 });
      const at = b.length - 2;
      b.writeUInt16BE(int(65536), at);
      return rnd() < 0.5 ? b : Buffer.concat([b.subarray(0, at), Buffer.from([0, 8, 0, 10, 0, 200, 1, 2, 3, 4])]);
    }
    case 7:
      return Buffer.concat([valid(), Buffer.alloc(1 + int(50), int(256))]);
    case 8: {
      const b = valid();
      b[2] = (b[2] as number) | 0x80; // a response: must be dropped
      return b;
    }
    default: {
      const b = valid();
      b[2] = ((b[2] as number) & 0x87) | (int(16) << 3);
      return b;
    }
  }
}

let proc: ChildProcess;
let port: number;
let stderr = '';

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0);
}

/** A fixed set of queries; the answers' bytes are the "data" that must not change. */
async function reference(): Promise<string[]> {
  const out: string[] = [];
  for (const [n, name] of NAMES.entries()) {
    for (const t of [1, 5, 16]) {
      const r = await udpExchange(HOST, port, rawQuery(name, t, { id: 1000 + n * 10 + t, edns: 1232 }));
      out.push(r === undefined ? 'no answer' : r.toString('hex'));
    }
  }
  return out;
}

beforeAll(async () => {
  requireCurrentDist();
  const zone = await writeZone(ZONE);
  const probe = await new Promise<number>((resolve) => {
    const s = dgram.createSocket('udp4');
    s.bind(0, HOST, () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
  port = probe;
  proc = spawn(process.execPath, [MAIN, 'agent', '--listen', `${HOST}:${port}`, '--zone-file', zone, '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
  proc.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  await waitFor(async () => (await udpExchange(HOST, port, rawQuery('www.fuzz.test', 1), 200)) !== undefined, { what: 'agent answering', timeoutMs: 10_000 });
});

afterAll(() => {
  if (proc.exitCode === null) proc.kill('SIGKILL');
});

describe('robustness', () => {
  it('survives 100,000+ malformed packets over UDP and TCP with its data unchanged', async () => {
    const before = await reference();
    expect(before.filter((a) => a === 'no answer')).toEqual([]);
    const rssBefore = rssKb(proc.pid as number);
    const rnd = prng(20261125);

    // UDP: batches of 500 datagrams, then a sentinel.
    const sock = dgram.createSocket('udp4');
    let received = 0;
    let malformed = 0;
    let sentinelSeen = -1;
    sock.on('message', (m) => {
      received++;
      if (m.length >= 2 && m.readUInt16BE(0) === 0xfffe && (m[2] as number) & 0x80) sentinelSeen = m.readUInt16BE(6);
      if (((m[2] as number) & 0x80) === 0) malformed++;
      try {
        packet.decode(m);
      } catch {
        malformed++;
      }
    });
    await new Promise<void>((r) => sock.bind(0, HOST, () => r()));
    let sent = 0;
    for (let batch = 0; sent < UDP_PACKETS; batch++) {
      for (let k = 0; k < 500; k++, sent++) sock.send(fuzzPacket(rnd, sent), port, HOST);
      sentinelSeen = -1;
      await waitFor(
        () => {
          if (sentinelSeen >= 0) return true;
          sock.send(rawQuery('www.fuzz.test', 1, { id: 0xfffe }), port, HOST);
          return undefined;
        },
        { what: `sentinel after UDP batch ${batch}`, timeoutMs: 10_000, intervalMs: 20 },
      );
    }
    sock.close();
    expect(received).toBeGreaterThan(UDP_PACKETS / 4);
    expect(malformed).toBe(0);

    // TCP: 10 connections at a time, each a stream of 200 fuzzed frames (some with lying
    // length prefixes); the server answers or closes, and the connection always ends.
    let tcpSent = 0;
    while (tcpSent < TCP_PACKETS) {
      const conns = Array.from({ length: 10 }, () => {
        const frames: Buffer[] = [];
        for (let k = 0; k < 200; k++, tcpSent++) {
          const p = fuzzPacket(rnd, tcpSent);
          const len = rnd() < 0.05 ? Math.floor(rnd() * 65536) : p.length;
          frames.push(Buffer.from([len >> 8, len & 0xff]), p);
        }
        return new Promise<void>((resolve) => {
          const s = net.connect({ host: HOST, port }, () => s.end(Buffer.concat(frames)));
          s.on('data', () => undefined);
          s.on('error', () => resolve());
          s.on('close', () => resolve());
          s.setTimeout(15_000, () => s.destroy());
        });
      });
      await Promise.all(conns);
    }

    expect(proc.exitCode).toBeNull();
    expect(stderr).toBe('');
    const after = await reference();
    expect(after).toEqual(before);
    const rssAfter = rssKb(proc.pid as number);
    // Bounded: well under what the garbage would cost if anything were kept per packet.
    expect(rssAfter).toBeLessThan(Math.max(rssBefore * 2, rssBefore + 64 * 1024));
    console.log(`robustness: ${sent} UDP + ${tcpSent} TCP packets, ${received} UDP answers, RSS ${rssBefore} → ${rssAfter} kB`);
  });
});
