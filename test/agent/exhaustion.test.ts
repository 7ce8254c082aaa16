/**
 * Resource exhaustion against a running `dnssync agent` process (issue #12 item 6): a TCP
 * client that pipelines queries and never reads must not grow the agent's memory (the
 * chart's limit is 384Mi; an OOM kill restarts the agent), and everyone else keeps being
 * answered while it tries.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import packet from 'dns-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { frameAll } from '../../src/dns/framing.js';
import { waitFor } from '../util/wait.js';
import { rawQuery, tcpPipeline, udpExchange, writeZone } from './helpers.js';

const HOST = '127.0.10.7';
const MAIN = 'dist/src/cli/main.js';

// A fat answer (about 1 kB) makes every unread query cost the agent a kilobyte of output.
const TXT = Array.from({ length: 4 }, (_, i) => `"${String(i).repeat(240)}"`).join(' ');
const ZONE = `$ORIGIN exhaust.test.
$TTL 60
@ IN SOA ns hostmaster 1 3600 600 86400 30
@ IN NS ns
ns IN A 10.0.0.1
www IN A 10.0.0.2
fat IN TXT ${TXT}
`;

let proc: ChildProcess;
let port: number;
let metricsPort: number;
let stderr = '';

function freePort(host: string): Promise<number> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.bind(0, host, () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0);
}

async function metrics(): Promise<string> {
  const r = await fetch(`http://${HOST}:${metricsPort}/metrics`);
  return r.text();
}

/** The sum of a metric's samples whose labels include `labels` (0 when absent). */
function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const l = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

/**
 * Opens a TCP connection from `local` and asks one query on it: 'answered', or 'closed' when
 * the server closes it without an answer. The socket stays open for the caller to end.
 */
async function probe(host: string, port: number, local: string, held: net.Socket[], query: Buffer): Promise<'answered' | 'closed'> {
  const sock = net.connect({ host, port, localAddress: local });
  held.push(sock);
  return new Promise((resolve) => {
    sock.on('error', () => resolve('closed'));
    sock.on('close', () => resolve('closed'));
    sock.on('data', () => resolve('answered'));
    sock.on('connect', () => sock.write(frameAll([query])));
  });
}

beforeAll(async () => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} missing: run \`make build\` (tsc) first`);
  const zone = await writeZone(ZONE);
  port = await freePort(HOST);
  metricsPort = await freePort(HOST);
  proc = spawn(
    process.execPath,
    [MAIN, 'agent', '--listen', `${HOST}:${port}`, '--zone-file', zone, '--metrics-listen', `${HOST}:${metricsPort}`, '--tcp-idle-timeout', '2s', '--log-level', 'warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  proc.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  await waitFor(async () => (await udpExchange(HOST, port, rawQuery('www.exhaust.test', 1), 200)) !== undefined, { what: 'agent answering', timeoutMs: 10_000 });
});

afterAll(() => {
  if (proc.exitCode === null) proc.kill('SIGKILL');
});

describe('TCP backpressure', () => {
  it('a client pipelining 200,000 queries and never reading cannot grow the agent, and others are still answered', async () => {
    const pid = proc.pid as number;
    const rssBefore = rssKb(pid);
    const query = rawQuery('fat.exhaust.test', 16, { id: 7 });
    const flood = frameAll(Array.from({ length: 200_000 }, () => query));

    // The abuser: hands the kernel all 200,000 queries and never reads an answer.
    const abuser = net.connect({ host: HOST, port });
    abuser.pause();
    let abuserClosed = false;
    abuser.on('error', () => undefined);
    abuser.on('close', () => (abuserClosed = true));
    await new Promise<void>((resolve) => abuser.once('connect', () => resolve()));
    abuser.write(flood);

    // Watch the agent until either it has read everything (the abuser's buffer emptied) or
    // it has closed the stuck connection; meanwhile others must be answered.
    let peakKb = rssBefore;
    let othersAnswered = 0;
    await waitFor(
      async () => {
        peakKb = Math.max(peakKb, rssKb(pid));
        const udp = await udpExchange(HOST, port, rawQuery('www.exhaust.test', 1, { id: 11 }), 1000);
        const [tcp] = await tcpPipeline(HOST, port, [rawQuery('www.exhaust.test', 1, { id: 12 })], 1, 2000);
        if (udp !== undefined && tcp !== undefined && tcp.readUInt16BE(0) === 12) othersAnswered++;
        peakKb = Math.max(peakKb, rssKb(pid));
        // Kernel buffers on loopback can hold the whole flood, so "the client sent it all"
        // proves nothing: done when the agent closed the connection, or grew past the bound.
        return abuserClosed || (peakKb - rssBefore) / 1024 >= 48;
      },
      { what: 'the agent to close the stuck connection (or grow past the bound)', timeoutMs: 60_000, intervalMs: 100 },
    );
    abuser.destroy();
    const grewMb = (peakKb - rssBefore) / 1024;
    console.log(`tcp flood: agent RSS ${(rssBefore / 1024).toFixed(0)} MiB → peak ${(peakKb / 1024).toFixed(0)} MiB (+${grewMb.toFixed(0)} MiB); unsent at the client ${(abuser.writableLength / 1048576).toFixed(1)} MiB; others answered ${othersAnswered} times`);

    expect(proc.exitCode).toBeNull();
    // 200,000 kB-sized answers are ~200 MB of output: anything close to that means the agent
    // buffered what it could not send.
    expect(grewMb).toBeLessThan(48);
    expect(othersAnswered).toBeGreaterThan(0);
    // Stuck past the idle timeout: closed by the agent, and counted.
    expect(abuserClosed).toBe(true);
    await waitFor(async () => metricValue(await metrics(), 'dnssync_agent_tcp_closed_total', { reason: 'stuck' }) >= 1, { what: 'the stuck close counted', timeoutMs: 5_000 });
    expect(stderr).toBe('');
  });
});

describe('TCP connection caps on the DNS port', () => {
  it('closes the 101st connection from one address at accept (default cap 100), counts it, and still admits other addresses', async () => {
    const held: net.Socket[] = [];
    try {
      const q = rawQuery('www.exhaust.test', 1, { id: 21 });
      const first = await Promise.all(Array.from({ length: 100 }, () => probe(HOST, port, '127.0.91.1', held, q)));
      expect(first.filter((r) => r === 'answered')).toHaveLength(100);
      expect(await probe(HOST, port, '127.0.91.1', held, q)).toBe('closed');
      expect(await probe(HOST, port, '127.0.91.2', held, q)).toBe('answered');
      const m = await metrics();
      expect(metricValue(m, 'dnssync_agent_tcp_refused_total', { reason: 'per_client' })).toBeGreaterThanOrEqual(1);
      expect(metricValue(m, 'dnssync_agent_tcp_connections')).toBeGreaterThanOrEqual(101);
    } finally {
      for (const s of held) s.destroy();
    }
    // Closed connections give their slots back.
    await waitFor(async () => metricValue(await metrics(), 'dnssync_agent_tcp_connections') === 0, { what: 'every connection closed', timeoutMs: 5_000 });
    const held2: net.Socket[] = [];
    expect(await probe(HOST, port, '127.0.91.1', held2, rawQuery('www.exhaust.test', 1))).toBe('answered');
    for (const s of held2) s.destroy();
  });

  it('closes connections over --tcp-max-connections at accept whatever their address', async () => {
    const host = '127.0.10.8';
    const p = await freePort(host);
    const mp = await freePort(host);
    const zone = await writeZone(ZONE);
    const agent = spawn(
      process.execPath,
      [MAIN, 'agent', '--listen', `${host}:${p}`, '--zone-file', zone, '--metrics-listen', `${host}:${mp}`, '--tcp-max-connections', '6', '--tcp-max-connections-per-client', '3', '--log-level', 'warn'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    agent.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    agent.stderr?.on('data', (c: Buffer) => (out += c.toString()));
    const held: net.Socket[] = [];
    try {
      await waitFor(async () => agent.exitCode === null && (await udpExchange(host, p, rawQuery('www.exhaust.test', 1), 200)) !== undefined, { what: `agent answering (${out})`, timeoutMs: 10_000 });
      const q = rawQuery('www.exhaust.test', 1);
      const a = await Promise.all(['127.0.92.1', '127.0.92.1', '127.0.92.1', '127.0.92.2', '127.0.92.2', '127.0.92.2'].map((l) => probe(host, p, l, held, q)));
      expect(a).toEqual(Array(6).fill('answered'));
      expect(await probe(host, p, '127.0.92.3', held, q)).toBe('closed');
      expect(await probe(host, p, '127.0.92.3', held, q)).toBe('closed');
      const m = await (await fetch(`http://${host}:${mp}/metrics`)).text();
      expect(metricValue(m, 'dnssync_agent_tcp_refused_total', { reason: 'total' })).toBe(2);
      // Refusals are logged, but not one line each.
      await waitFor(() => out.includes('connection cap reached'), { what: 'the refusal logged', timeoutMs: 5_000 });
      expect(out.split('\n').filter((l) => l.includes('connection cap reached'))).toHaveLength(1);
    } finally {
      for (const s of held) s.destroy();
      agent.kill('SIGKILL');
    }
  });
});

describe('TCP connection caps on the sync ports', () => {
  const soa = (zone: string): Buffer => rawQuery(zone, 6, { rd: false });

  it('the agent sync port closes the 17th connection from one address at accept', async () => {
    const host = '127.0.10.9';
    const p = await freePort(host);
    const sp = await freePort(host);
    const mp = await freePort(host);
    const agent = spawn(process.execPath, [MAIN, 'agent', '--listen', `${host}:${p}`, '--sync-listen', `${host}:${sp}`, '--metrics-listen', `${host}:${mp}`, '--log-level', 'error'], { stdio: 'ignore' });
    const held: net.Socket[] = [];
    try {
      await waitFor(async () => (await fetch(`http://${host}:${mp}/metrics`)).ok, { what: 'agent up', timeoutMs: 10_000 });
      const first = await Promise.all(Array.from({ length: 16 }, () => probe(host, sp, '127.0.93.1', held, soa('exhaust.test'))));
      expect(first).toEqual(Array(16).fill('answered'));
      expect(await probe(host, sp, '127.0.93.1', held, soa('exhaust.test'))).toBe('closed');
      expect(await probe(host, sp, '127.0.93.2', held, soa('exhaust.test'))).toBe('answered');
      const m = await (await fetch(`http://${host}:${mp}/metrics`)).text();
      expect(metricValue(m, 'dnssync_sync_tcp_refused_total', { role: 'secondary', reason: 'per_client' })).toBe(1);
      expect(metricValue(m, 'dnssync_sync_tcp_connections', { role: 'secondary' })).toBe(17);
    } finally {
      for (const s of held) s.destroy();
      agent.kill('SIGKILL');
    }
  });

  it("the primary's transfer port closes the 257th connection from one address at accept", async () => {
    const host = '127.0.10.10';
    const tp = await freePort(host);
    const mp = await freePort(host);
    const zone = await writeZone(ZONE, 'exhaust.test.zone');
    const primary = spawn(process.execPath, [MAIN, 'primary', '--zone-file', `exhaust.test=${zone}`, '--transfer-listen', `${host}:${tp}`, '--metrics-listen', `${host}:${mp}`, '--log-level', 'error'], { stdio: 'ignore' });
    const held: net.Socket[] = [];
    try {
      await waitFor(async () => (await fetch(`http://${host}:${mp}/metrics`)).ok, { what: 'primary up', timeoutMs: 10_000 });
      const first = await Promise.all(Array.from({ length: 256 }, () => probe(host, tp, '127.0.94.1', held, soa('exhaust.test'))));
      expect(first.filter((r) => r === 'answered')).toHaveLength(256);
      expect(await probe(host, tp, '127.0.94.1', held, soa('exhaust.test'))).toBe('closed');
      expect(await probe(host, tp, '127.0.94.2', held, soa('exhaust.test'))).toBe('answered');
      const m = await (await fetch(`http://${host}:${mp}/metrics`)).text();
      expect(metricValue(m, 'dnssync_sync_tcp_refused_total', { role: 'primary', reason: 'per_client' })).toBe(1);
    } finally {
      for (const s of held) s.destroy();
      primary.kill('SIGKILL');
    }
  });
});

/** The first answer RR's data and TTL. */
function firstAnswer(m: Buffer): { data: unknown; ttl: number | undefined } | undefined {
  const a = packet.decode(m).answers?.[0] as { data?: unknown; ttl?: number } | undefined;
  return a === undefined ? undefined : { data: a.data, ttl: a.ttl };
}

describe('forwards in flight', () => {
  // Before: at the cap every query that needed an upstream got SERVFAIL, even one the cache
  // still held stale (RFC 8767 would serve it).
  it('at the cap, a name the cache holds stale is answered from it, not SERVFAIL', async () => {
    const host = '127.0.10.21';
    // Answers old.flood.example once (TTL 1), then never answers anything.
    const upstream = dgram.createSocket('udp4');
    let answered = false;
    let upstreamGot = 0;
    upstream.on('message', (m, from) => {
      upstreamGot++;
      const q = packet.decode(m);
      if (answered || q.questions?.[0]?.name !== 'old.flood.example') return;
      answered = true;
      upstream.send(packet.encode({ id: q.id, type: 'response', flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE, questions: q.questions, answers: [{ name: 'old.flood.example', type: 'A', ttl: 1, data: '192.0.2.77' }] }), from.port, from.address);
    });
    await new Promise<void>((r) => upstream.bind(0, '127.0.10.22', () => r()));
    const p = await freePort(host);
    const mp = await freePort(host);
    const agent = spawn(
      process.execPath,
      [MAIN, 'agent', '--listen', `${host}:${p}`, '--upstream', `127.0.10.22:${upstream.address().port}`, '--upstream-timeout', '60s', '--max-forwards', '64', '--metrics-listen', `${host}:${mp}`, '--log-level', 'error'],
      { stdio: 'ignore' },
    );
    const client = dgram.createSocket('udp4');
    const replies = new Map<number, Buffer>();
    client.on('message', (m) => replies.set(m.readUInt16BE(0), m));
    try {
      await waitFor(async () => (await fetch(`http://${host}:${mp}/metrics`).catch(() => undefined))?.ok, { what: 'agent up', timeoutMs: 10_000 });
      await new Promise<void>((r) => client.bind(0, '127.0.10.23', () => r()));
      client.send(rawQuery('old.flood.example', 1, { id: 1 }), p, host);
      await waitFor(() => replies.get(1), { what: 'old.flood.example answered', timeoutMs: 10_000 });
      expect(firstAnswer(replies.get(1) as Buffer)).toEqual({ data: '192.0.2.77', ttl: 1 });
      // Its TTL runs out: a cache-only question (RD=0) is refused once the entry is not fresh.
      let id = 2;
      await waitFor(async () => {
        const mine = id++;
        client.send(rawQuery('old.flood.example', 1, { id: mine, rd: false }), p, host);
        const r = await waitFor(() => replies.get(mine), { what: 'RD=0 answer', timeoutMs: 5_000 });
        return ((r[3] as number) & 0x0f) === 5 ? true : undefined;
      }, { what: 'old.flood.example no longer fresh', timeoutMs: 10_000, intervalMs: 100 });
      // 64 distinct names fill the cap (the upstream never answers them).
      const before = upstreamGot;
      for (let k = 0; k < 64; k++) client.send(rawQuery(`n${k}.flood.example`, 1, { id: 1000 + k }), p, host);
      await waitFor(() => upstreamGot - before >= 64, { what: '64 queries waiting upstream', timeoutMs: 10_000 });
      client.send(rawQuery('new.flood.example', 1, { id: 2000 }), p, host);
      client.send(rawQuery('old.flood.example', 1, { id: 2001 }), p, host);
      const fresh = await waitFor(() => replies.get(2000), { what: 'new name past the cap', timeoutMs: 10_000 });
      const stale = await waitFor(() => replies.get(2001), { what: 'stale name past the cap', timeoutMs: 10_000 });
      expect((fresh[3] as number) & 0x0f).toBe(2);
      expect((stale[3] as number) & 0x0f).toBe(0);
      expect(firstAnswer(stale)).toEqual({ data: '192.0.2.77', ttl: 30 }); // RFC 8767's stale TTL
      const m = await (await fetch(`http://${host}:${mp}/metrics`)).text();
      expect(metricValue(m, 'dnssync_agent_forwards_refused_total')).toBe(1);
    } finally {
      agent.kill('SIGKILL');
      client.close();
      upstream.close();
    }
  });

  it('past 2,048 client queries waiting on upstreams, answers SERVFAIL at once and counts it', async () => {
    const host = '127.0.10.11';
    // An upstream that reads every query and never answers.
    const silent = dgram.createSocket('udp4');
    let upstreamGot = 0;
    silent.on('message', () => upstreamGot++);
    await new Promise<void>((r) => silent.bind(0, '127.0.10.12', () => r()));
    const p = await freePort(host);
    const mp = await freePort(host);
    const agent = spawn(
      process.execPath,
      [MAIN, 'agent', '--listen', `${host}:${p}`, '--upstream', `127.0.10.12:${silent.address().port}`, '--upstream-timeout', '60s', '--metrics-listen', `${host}:${mp}`, '--log-level', 'error'],
      { stdio: 'ignore' },
    );
    const client = dgram.createSocket('udp4');
    const rcodes = new Map<number, number>();
    client.on('message', (m) => rcodes.set(m.readUInt16BE(0), (m[3] as number) & 0x0f));
    const inflight = async (): Promise<number> => metricValue(await (await fetch(`http://${host}:${mp}/metrics`)).text(), 'dnssync_agent_forwards_inflight');
    try {
      await waitFor(async () => (await fetch(`http://${host}:${mp}/metrics`)).ok, { what: 'agent up', timeoutMs: 10_000 });
      await new Promise<void>((r) => client.bind(0, '127.0.10.13', () => r()));
      // 2,048 distinct names, in batches small enough for the socket buffers; each batch is
      // in flight (or answered) before the next goes.
      let sent = 0;
      const send = (n: number): void => {
        for (let k = 0; k < n; k++, sent++) client.send(rawQuery(`n${sent}.flood.example`, 1, { id: sent }), p, host);
      };
      while (sent < 2048) {
        send(256);
        const want = sent;
        await waitFor(() => upstreamGot + rcodes.size >= want, { what: `${want} queries sent upstream`, timeoutMs: 10_000 });
      }
      expect(rcodes.size).toBe(0);
      send(50);
      await waitFor(() => rcodes.size >= 50, { what: '50 answers past the cap', timeoutMs: 10_000 });
      expect([...rcodes.keys()].every((id) => id >= 2048)).toBe(true);
      expect([...rcodes.values()].every((rc) => rc === 2)).toBe(true);
      const m = await (await fetch(`http://${host}:${mp}/metrics`)).text();
      expect(metricValue(m, 'dnssync_agent_forwards_refused_total')).toBe(50);
      expect(await inflight()).toBe(2048);
      expect(upstreamGot).toBe(2048);
    } finally {
      agent.kill('SIGKILL');
      client.close();
      silent.close();
    }
  });
});
