/**
 * A steady stream of DNS queries, as pods on a node send them, for measuring what an agent
 * replacement costs: `node query-stream.js HOST PORT NAME RATE DEADLINE_MS [STOP_FILE]` sends
 * RATE queries a second over UDP (a fresh socket each, like a stub resolver) and RATE over TCP
 * (a connection each), every one with a deadline (default 1 s) and no retry, until SIGTERM (or
 * until STOP_FILE exists: how the e2e test stops it inside a pod, where it runs on the image's
 * node with nothing but Node's own modules); then prints one JSON line: sent, answered, failed
 * (timeout, error or an rcode other than NOERROR), timeouts (the part of failed that got no
 * reply at all), and the longest gap between two answers, per transport.
 * HOST `resolv.conf` is the first nameserver of /etc/resolv.conf: what the pod's own resolver asks.
 */
import dgram from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';

interface Tally {
  sent: number;
  answered: number;
  failed: number;
  timeouts: number;
  /** TCP connections reset or closed before the answer (a process that had accepted them died). */
  resets: number;
  maxGapMs: number;
  lastAnswer: number;
  firstFailures: string[];
}

const [hostArg = '127.0.0.1', portArg = '53', name = 'api.corp.internal', rateArg = '200', timeoutArg = '1000', stopFile] = process.argv.slice(2);

function resolvConfNameserver(): string {
  const line = readFileSync('/etc/resolv.conf', 'utf8').split('\n').find((l) => /^\s*nameserver\s+\S+/.test(l));
  if (line === undefined) throw new Error('/etc/resolv.conf names no nameserver');
  return line.trim().split(/\s+/)[1] as string;
}
const host = hostArg === 'resolv.conf' ? resolvConfNameserver() : hostArg;
const port = Number(portArg);
const rate = Number(rateArg);
const TIMEOUT_MS = Number(timeoutArg);

function query(id: number): Buffer {
  const labels = name.split('.').filter((l) => l !== '');
  const qname = Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])]);
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h[2] = 1; // RD
  h.writeUInt16BE(1, 4);
  return Buffer.concat([h, qname, Buffer.from([0, 1, 0, 1])]);
}

function tally(): Tally {
  return { sent: 0, answered: 0, failed: 0, timeouts: 0, resets: 0, maxGapMs: 0, lastAnswer: Date.now(), firstFailures: [] };
}

const udp = tally();
const tcp = tally();

function settle(t: Tally, ok: boolean, why: string): void {
  const now = Date.now();
  if (ok) {
    t.maxGapMs = Math.max(t.maxGapMs, now - t.lastAnswer);
    t.lastAnswer = now;
    t.answered++;
  } else {
    t.failed++;
    if (why.endsWith(' timeout')) t.timeouts++;
    if (/ECONNRESET|closed before the answer/.test(why)) t.resets++;
    if (t.firstFailures.length < 5) t.firstFailures.push(`${new Date(now).toISOString()} ${why}`);
  }
}

function ok(msg: Buffer, id: number): string | undefined {
  if (msg.length < 12 || msg.readUInt16BE(0) !== id) return 'wrong id';
  const rcode = (msg[3] as number) & 0x0f;
  return rcode === 0 ? undefined : `rcode ${rcode}`;
}

function sendUdp(): void {
  const id = (Math.random() * 65536) | 0;
  const s = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
  let done = false;
  const finish = (good: boolean, why: string): void => {
    if (done) return;
    done = true;
    clearTimeout(t);
    s.close();
    settle(udp, good, why);
  };
  const t = setTimeout(() => finish(false, 'udp timeout'), TIMEOUT_MS);
  s.on('message', (m) => {
    const bad = ok(m, id);
    finish(bad === undefined, `udp ${bad}`);
  });
  s.on('error', (e) => finish(false, `udp ${e.message}`));
  udp.sent++;
  s.send(query(id), port, host);
}

function sendTcp(): void {
  const id = (Math.random() * 65536) | 0;
  const q = query(id);
  const sock = net.connect({ host, port });
  let acc = Buffer.alloc(0);
  let done = false;
  const finish = (good: boolean, why: string): void => {
    if (done) return;
    done = true;
    clearTimeout(t);
    sock.destroy();
    settle(tcp, good, why);
  };
  const t = setTimeout(() => finish(false, 'tcp timeout'), TIMEOUT_MS);
  sock.on('connect', () => sock.write(Buffer.concat([Buffer.from([q.length >> 8, q.length & 0xff]), q])));
  sock.on('data', (c: Buffer) => {
    acc = Buffer.concat([acc, c]);
    if (acc.length >= 2 && acc.length >= 2 + acc.readUInt16BE(0)) {
      const bad = ok(acc.subarray(2, 2 + acc.readUInt16BE(0)), id);
      finish(bad === undefined, `tcp ${bad}`);
    }
  });
  sock.on('error', (e) => finish(false, `tcp ${e.message}`));
  sock.on('close', () => finish(false, 'tcp closed before the answer'));
  tcp.sent++;
}

const every = 1000 / rate;
const start = Date.now();
let n = 0;
// The client's own stalls (a loaded machine): a query timed out behind a stalled client
// says nothing about the server, so the report shows the longest one.
let lastTick = Date.now();
let maxTickGapMs = 0;
// Paced against the clock, not by setInterval ticks, so a slow tick does not lower the rate.
const pacer = setInterval(() => {
  const now = Date.now();
  maxTickGapMs = Math.max(maxTickGapMs, now - lastTick);
  lastTick = now;
  const due = Math.floor((Date.now() - start) / every);
  for (; n < due; n++) {
    sendUdp();
    sendTcp();
  }
}, 2);

let stopping = false;
function stop(): void {
  if (stopping) return;
  stopping = true;
  clearInterval(pacer);
  const seconds = (Date.now() - start) / 1000;
  // Let the last queries settle (their own deadline), then report.
  setTimeout(() => {
    const out = (t: Tally): object => ({ sent: t.sent, answered: t.answered, failed: t.failed, timeouts: t.timeouts, resets: t.resets, maxGapMs: t.maxGapMs, firstFailures: t.firstFailures });
    process.stdout.write(JSON.stringify({ target: host, udp: out(udp), tcp: out(tcp), seconds, maxTickGapMs }) + '\n');
    process.exit(0);
  }, TIMEOUT_MS + 100);
}
process.on('SIGTERM', stop);
if (stopFile !== undefined) {
  // Bounded: a stream nobody stops ends by itself after 15 minutes.
  const deadline = Date.now() + 15 * 60_000;
  const poll = setInterval(() => {
    if (existsSync(stopFile) || Date.now() > deadline) {
      clearInterval(poll);
      stop();
    }
  }, 100);
}
process.stdout.write(`started ${host}\n`);
