/**
 * What /healthz checks on an agent: that each DNS listener still answers, end to end — a
 * query over UDP to the listen address (class CH, answered REFUSED from memory, so no
 * upstream is involved) and a TCP connect. A socket that died, or a listen address someone
 * removed from the node, fails it (the address check names which), and the kubelet
 * restarts the agent if the repair loop does not put things back first.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import type { HostPort } from './agent.js';

/** `healthz.dnssync. CH TXT`, a fixed query with a fresh ID. */
function probeQuery(): Buffer {
  const name = Buffer.from('\x07healthz\x07dnssync\x00', 'latin1');
  const h = Buffer.alloc(12);
  randomBytes(2).copy(h, 0);
  h.writeUInt16BE(1, 4);
  const tail = Buffer.from([0, 16, 0, 3]);
  return Buffer.concat([h, name, tail]);
}

/** A wildcard listen address is probed on loopback. */
function target(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '::1';
  return host;
}

function probeUdp(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const q = probeQuery();
    const s = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    const finish = (reason: string | undefined): void => {
      clearTimeout(t);
      s.close();
      resolve(reason);
    };
    const t = setTimeout(() => finish(`no UDP answer from ${host}:${port} within ${timeoutMs} ms`), timeoutMs);
    s.on('message', (m) => {
      if (m.length >= 2 && m.readUInt16BE(0) === q.readUInt16BE(0)) finish(undefined);
    });
    s.on('error', (err) => finish(`UDP ${host}:${port}: ${err.message}`));
    s.send(q, port, host);
  });
}

function probeTcp(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const finish = (reason: string | undefined): void => {
      clearTimeout(t);
      sock.destroy();
      resolve(reason);
    };
    const t = setTimeout(() => finish(`no TCP connection to ${host}:${port} within ${timeoutMs} ms`), timeoutMs);
    sock.once('connect', () => finish(undefined));
    sock.once('error', (err) => finish(`TCP ${host}:${port}: ${err.message}`));
  });
}

/** Undefined when every listener answers; otherwise the first problem found. */
export async function probeListeners(listen: readonly HostPort[], timeoutMs = 1_000): Promise<string | undefined> {
  const results = await Promise.all(listen.flatMap((l) => [probeUdp(target(l.host), l.port, timeoutMs), probeTcp(target(l.host), l.port, timeoutMs)]));
  return results.find((r) => r !== undefined);
}
