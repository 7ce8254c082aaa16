/**
 * Child process of the fleet bench: hosts many simulated agents, each a UDP socket on its own
 * loopback address at the one sync port every agent shares (as a DaemonSet's do), speaking
 * the real protocol with the real code for the parts that cost a leader something or that a
 * forger would attack — TSIG verification of every NOTIFY and transfer message (key, MAC,
 * time), a TSIG-signed answer carrying the SOA it now holds (the ACK), IXFR (AXFR when cold)
 * over TCP from the NOTIFY's sender whenever a NOTIFY does not carry a diff from its serial.
 *
 * What an agent holds: its serial and a record count, nothing else. It walks the records of a
 * diff or a transfer instead of decoding them and builds no zone, no DNS server, no cache:
 * that is what lets a few processes host 5,000 of them on two shared cores.
 *
 * Each process aggregates what it sees, so reporting costs nothing per agent: per serial, how
 * many of its agents reached it and when the last one did; the most transfers it ran at once.
 *
 * IPC in:  {cmd:'start', hosts, port, key, origin}  → {ev:'ready'}
 *          {cmd:'stats'} → {ev:'stats', ...}      {cmd:'reset'} (forget serial times)
 *          {cmd:'stop'}
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, type Server, type Socket as TcpSocket } from 'node:net';
import { Auth } from '../../src/sync/auth.js';
import { OPCODE_NOTIFY, OPCODE_QUERY, RCODE, readHeader } from '../../src/sync/codec.js';
import { transferRequest } from '../../src/sync/client.js';
import { frame, readFrames } from '../../src/sync/tcp.js';
import { TsigStreamVerifier, type TsigKey } from '../../src/dns/tsig.js';
import { serialGt } from '../../src/dns/serial.js';
import { configureLogger } from '../../src/observability/logger.js';
import { readNotify, soaSerialAt, XfrWalker, type RRView } from './fleet-wire.js';

interface StartMsg {
  cmd: 'start';
  hosts: string[];
  port: number;
  key: { name: string; algorithm: TsigKey['algorithm']; secret: string };
  origin: string;
  /** Milliseconds a NOTIFY answer may wait for the pull it started (the agent's default). */
  answerWaitMs?: number;
}

interface SimAgent {
  readonly host: string;
  readonly sock: UdpSocket;
  /** Its sync port's TCP side: NOTIFYs too large for a datagram come over a leader's stream. */
  readonly tcp: Server;
  /**
   * Its own TSIG state, as every agent has: the replay cache is per agent (the leader sends the
   * same signed NOTIFY to every agent at one base), kept small here — a real agent remembers
   * every MAC for the fudge window; 128 cover the seconds a simulated one ever needs.
   */
  readonly auth: Auth;
  serial: number | undefined;
  /** Serials of the other zones it is sent (the leader's catalog), by question name: taken as announced, not built. */
  readonly others: Map<string, number>;
  records: number;
  pulling: Promise<void> | undefined;
}

configureLogger('warn');
const now = (): number => performance.timeOrigin + performance.now();
const TRANSFER_TIMEOUT_MS = 30_000;
const REPLAY_ENTRIES = 128;

let key: TsigKey;
let origin = '';
let answerWait = 1500;
const agents: SimAgent[] = [];
/**
 * The newest SOA record seen in a NOTIFY answer section, and where in that message it sat:
 * an agent's ACK is this record with its own serial written in. Shared by every agent of the
 * process, since only the serial differs between them.
 */
const soaTemplates = new Map<string, { bytes: Buffer; at: number; serialAt: number }>();
/** The fleet zone's name as its question carries it (the key of its template). */
let originKey = '';

function nameKey(msg: Buffer, qEnd: number): string {
  return msg.toString('latin1', 12, qEnd - 4);
}

// Per serial: agents of this process that reached it (or beyond) and the last one's time.
const reached = new Map<number, { n: number; last: number }>();
const counts = { notifies: 0, streamed: 0, diffs: 0, acks: 0, pulls: 0, pullFailures: 0, refused: 0, inflight: 0, maxInflight: 0, pullMs: [] as number[] };

function moved(from: number | undefined, to: number, t: number): void {
  // Every serial in (from, to] is now held; a jump of more than a run's worth of serials (a
  // cold start, or a time-stamped serial) counts the one reached.
  const start = from === undefined || to - from > 100_000 || to - from <= 0 ? to : from + 1;
  for (let s = start; s <= to; s++) {
    const r = reached.get(s);
    if (r) {
      r.n++;
      if (t > r.last) r.last = t;
    } else reached.set(s, { n: 1, last: t });
  }
}

/** A response to `msg` (TSIG stripped) echoing header and question, with our SOA as answer. */
function soaAnswer(msg: Buffer, qEnd: number, opcode: number, serial: number | undefined): Buffer {
  const t = soaTemplates.get(nameKey(msg, qEnd));
  // The template's SOA sits right after an identical question in its own message, so its
  // compression pointers stay valid at the same offset here.
  const withSoa = t !== undefined && serial !== undefined && t.at === qEnd;
  const out = Buffer.alloc(qEnd + (withSoa ? t.bytes.length : 0));
  msg.copy(out, 0, 0, qEnd);
  // Holding nothing yet: a NOTIFY is answered with no SOA (as the agent does while its first
  // pull runs), an SOA query is refused (the zone is not served here).
  const rcode = withSoa || opcode === OPCODE_NOTIFY ? RCODE.NOERROR : RCODE.REFUSED;
  out.writeUInt16BE(0x8000 | (opcode << 11) | 0x0400 | rcode, 2);
  out.writeUInt16BE(1, 4);
  out.writeUInt16BE(withSoa ? 1 : 0, 6);
  out.writeUInt32BE(0, 8);
  if (withSoa) {
    t.bytes.copy(out, qEnd);
    out.writeUInt32BE(serial >>> 0, qEnd + t.serialAt);
  }
  return out;
}

/** The leader's transfer port, as the source port of its UDP NOTIFYs (a stream's is ephemeral). */
let leaderPort = 0;

function onMessage(a: SimAgent, raw: Buffer, from: { address: string; port: number }, send: (m: Buffer) => void): void {
  let h;
  try {
    h = readHeader(raw);
  } catch {
    return;
  }
  if (h.qr) return;
  const v = a.auth.check(raw, false);
  if (!v.ok) {
    counts.refused++;
    if (v.response) send(v.response);
    return;
  }
  const msg = v.message;
  let n;
  try {
    n = readNotify(msg);
  } catch {
    return;
  }
  const zone = nameKey(msg, n.questionEnd);
  const reply = (): void => {
    counts.acks++;
    send(a.auth.answer(soaAnswer(msg, n.questionEnd, h.opcode, zone === originKey ? a.serial : a.others.get(zone)), v));
  };
  if (h.opcode === OPCODE_QUERY && n.qtype === 6) return reply();
  if (h.opcode !== OPCODE_NOTIFY) return;
  if (n.soa) keepTemplate(msg, n.soa, zone);
  if (zone !== originKey) {
    // The leader's catalog (or any other zone): held as announced; its data is not simulated.
    if (n.announced !== undefined) a.others.set(zone, n.announced);
    return reply();
  }
  counts.notifies++;
  const d = n.diff;
  if (d && a.serial === d.from && !a.pulling) {
    counts.diffs++;
    a.serial = d.to;
    a.records += d.added - d.deleted;
    moved(d.from, d.to, now());
    return reply();
  }
  if (a.serial !== undefined && n.announced !== undefined && !serialGt(n.announced, a.serial)) return reply();
  // A diff from a base we are already past (a retry crossed our ACK): as the agent does, say
  // where we are instead of pulling; the primary sends the rest from there.
  if (d && a.serial !== undefined && serialGt(a.serial, d.from)) return reply();
  // Behind without a usable diff: pull, and answer once the pull ends or the wait runs out.
  a.pulling ??= pull(a, from.address, leaderPort || from.port).finally(() => (a.pulling = undefined));
  let timer: NodeJS.Timeout | undefined;
  void Promise.race([a.pulling, new Promise<void>((r) => (timer = setTimeout(r, answerWait)))]).then(() => {
    clearTimeout(timer);
    reply();
  });
}

const conns = new Set<TcpSocket>();

/** A leader's push stream: framed NOTIFYs in, framed answers out, in order (as the agent's). */
function onStream(a: SimAgent, conn: TcpSocket): void {
  conns.add(conn);
  conn.setNoDelay(true);
  conn.on('close', () => conns.delete(conn));
  conn.on('error', () => conn.destroy());
  const from = { address: conn.remoteAddress ?? '', port: conn.remotePort ?? 0 };
  readFrames(conn, (raw) => {
    counts.streamed++;
    onMessage(a, raw, from, (out) => {
      if (conn.writable) conn.write(frame(out));
    });
  });
}

function keepTemplate(msg: Buffer, soa: RRView, zone: string): void {
  const t = soaTemplates.get(zone);
  if (t && t.at === soa.start && t.bytes.length === soa.end - soa.start) return;
  soaTemplates.set(zone, { bytes: Buffer.from(msg.subarray(soa.start, soa.end)), at: soa.start, serialAt: soaSerialAt(msg, soa) - soa.start });
}

async function pull(a: SimAgent, host: string, port: number): Promise<void> {
  counts.pulls++;
  counts.inflight++;
  if (counts.inflight > counts.maxInflight) counts.maxInflight = counts.inflight;
  const t0 = now();
  try {
    const r = await transfer(a, host, port);
    if (r.upToDate || r.final === undefined) return;
    const before = a.serial;
    a.records = r.incremental ? a.records + r.records : r.records;
    a.serial = r.final;
    moved(before, r.final, now());
    counts.pullMs.push(now() - t0);
  } catch {
    counts.pullFailures++;
  } finally {
    counts.inflight--;
  }
}

function transfer(a: SimAgent, host: string, port: number): Promise<XfrWalker> {
  const current = a.serial === undefined ? undefined : { name: origin, type: 'SOA', ttl: 0, data: { mname: origin, rname: origin, serial: a.serial, refresh: 0, retry: 0, expire: 0, minimum: 0 } };
  // The agent's own request builder (a fresh client cookie each): 5,000 agents pulling from
  // one serial would otherwise collide in the leader's replay cache.
  const req = transferRequest(a.auth, origin, current as Parameters<typeof transferRequest>[2]);
  const id = req.id;
  const verifier = new TsigStreamVerifier(key, req.mac as Buffer);
  const w = new XfrWalker();
  return new Promise((resolve, reject) => {
    let done = false;
    const sock = connect({ host, port, localAddress: a.host });
    const finish = (err?: Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(w);
    };
    const timer = setTimeout(() => finish(new Error('transfer timed out')), TRANSFER_TIMEOUT_MS);
    sock.setNoDelay(true);
    sock.on('connect', () => sock.write(frame(req.wire)));
    sock.on('error', (err) => finish(err));
    sock.on('close', () => finish(new Error('closed before the transfer ended')));
    let first = true;
    readFrames(sock, (raw) => {
      if (done) return;
      try {
        const h = readHeader(raw);
        if (h.id !== id || !h.qr) return;
        if (h.rcode !== RCODE.NOERROR) return finish(new Error(`rcode ${h.rcode}`));
        const m = verifier.verify(raw);
        const complete = w.add(m);
        const upToDate = first && !complete && w.upToDate;
        first = false;
        if (complete || upToDate) {
          verifier.finish();
          finish();
        }
      } catch (err) {
        finish(err instanceof Error ? err : new Error(String(err)));
      }
    });
  });
}

function stats(): object {
  let records = -1;
  const serials = new Map<number, number>();
  for (const a of agents) {
    serials.set(a.serial ?? -1, (serials.get(a.serial ?? -1) ?? 0) + 1);
    if (records === -1) records = a.records;
    else if (records !== a.records && a.serial === agents[0]?.serial) records = -2;
  }
  const pullMs = counts.pullMs;
  counts.pullMs = [];
  return {
    ev: 'stats',
    agents: agents.length,
    serials: [...serials],
    records,
    reached: [...reached].map(([s, r]) => [s, r.n, r.last]),
    counts: { ...counts, pullMs },
    cpu: process.cpuUsage(),
    rss: process.memoryUsage().rss,
  };
}

process.on('message', (raw) => {
  const m = raw as StartMsg | { cmd: 'stop' } | { cmd: 'stats' } | { cmd: 'reset' };
  if (m.cmd === 'stop') {
    for (const a of agents) {
      a.sock.close();
      a.tcp.close();
    }
    for (const c of conns) c.destroy();
    process.exit(0);
  }
  if (m.cmd === 'stats') {
    process.send?.(stats());
    return;
  }
  if (m.cmd === 'reset') {
    reached.clear();
    Object.assign(counts, { notifies: 0, streamed: 0, diffs: 0, acks: 0, pulls: 0, pullFailures: 0, refused: 0, maxInflight: counts.inflight, pullMs: [] });
    return;
  }
  void (async () => {
    key = { name: m.key.name, algorithm: m.key.algorithm, secret: Buffer.from(m.key.secret, 'base64') };
    origin = m.origin;
    originKey = Buffer.concat([...origin.split('.').filter((l) => l !== '').flatMap((l) => [Buffer.from([l.length]), Buffer.from(l, 'latin1')]), Buffer.from([0])]).toString('latin1');
    answerWait = m.answerWaitMs ?? answerWait;
    for (const host of m.hosts) {
      const sock = createSocket('udp4');
      const tcp = createServer((conn) => onStream(a, conn));
      const a: SimAgent = { host, sock, tcp, auth: new Auth([key], 'secondary', undefined, REPLAY_ENTRIES), serial: undefined, others: new Map(), records: 0, pulling: undefined };
      sock.on('message', (buf, rinfo) => {
        leaderPort = rinfo.port;
        onMessage(a, buf, rinfo, (out) => sock.send(out, rinfo.port, rinfo.address));
      });
      sock.on('error', () => undefined);
      await new Promise<void>((resolve, reject) => {
        sock.once('error', reject);
        sock.bind(m.port, host, () => {
          sock.off('error', reject);
          resolve();
        });
      });
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(m.port, host, () => {
          tcp.off('error', reject);
          resolve();
        });
      });
      agents.push(a);
    }
    process.send?.({ ev: 'ready' });
  })().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
});

process.on('disconnect', () => process.exit(0));
