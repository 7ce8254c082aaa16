/**
 * The upstream pool: sends a question to the upstreams in order of preference, fails over on
 * timeout, network error or a SERVFAIL/REFUSED answer, and retries over TCP when a UDP answer
 * comes back truncated. Health: a timeout or network error marks an upstream down for a
 * while, so later queries start with one that answers; when all are down they are still
 * tried, soonest-to-recover first, since that is the only way to find one back up.
 */
import { frame, FrameBuffer } from '../dns/framing.js';
import { HI_TC, LO_RCODE } from '../dns/header.js';
import dgram from 'node:dgram';
import net from 'node:net';
import { randomInt } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { QueryStats, type UpstreamFailure } from './stats.js';

export class UpstreamError extends Error {
  override readonly name: string = 'UpstreamError';
}

/** Every one of an upstream's 65,536 query IDs is pending: the query is not sent. */
export class UpstreamBusyError extends UpstreamError {
  override readonly name: string = 'UpstreamBusyError';
}

const RANDOM_TRIES = 8;

/**
 * A query ID not pending on this socket, or undefined when all 65,536 are. IDs are random
 * (RFC 5452: they are half of what keeps spoofed answers out); a few random tries find one
 * while the space is mostly free, and a scan from a random start bounds the search when it
 * is nearly full (it used to retry random IDs forever once every ID was pending).
 */
export function freeId(pending: ReadonlyMap<number, unknown>, random: () => number = () => randomInt(0, 65536)): number | undefined {
  if (pending.size >= 65536) return undefined;
  for (let i = 0; i < RANDOM_TRIES; i++) {
    const id = random();
    if (!pending.has(id)) return id;
  }
  const start = random();
  for (let k = 0; k < 65536; k++) {
    const id = (start + k) & 0xffff;
    if (!pending.has(id)) return id;
  }
  return undefined;
}

/** Every upstream was tried and none gave a usable answer. */
export class AllUpstreamsFailedError extends Error {
  override readonly name = 'AllUpstreamsFailedError';
  constructor(
    readonly attempts: readonly string[],
    /** A SERVFAIL-ish answer some upstream gave, to pass on when nothing is stale. */
    readonly lastResponse: Buffer | undefined,
  ) {
    super(`all upstreams failed: ${attempts.join('; ')}`);
  }
}

export interface UpstreamOptions {
  /** Per-attempt timeout, ms. */
  readonly timeoutMs: number;
  /** How long a timed-out upstream is passed over, ms. */
  readonly downMs: number;
  /** Our EDNS UDP size towards upstreams. */
  readonly udpSize: number;
}

interface Pending {
  readonly resolve: (b: Buffer) => void;
  readonly reject: (e: Error) => void;
  readonly question: Buffer;
  readonly timer: NodeJS.Timeout;
}

class Upstream {
  readonly name: string;
  downUntil = 0;
  private socket: dgram.Socket | undefined;
  /** When `socket` was opened (ms): a socket is retired at most once per timeout. */
  private socketSince = 0;
  /** Retired sockets, closed once no answer to what was sent on them can still count. */
  private readonly retired = new Set<dgram.Socket>();
  private readonly pending = new Map<number, Pending>();

  constructor(
    readonly host: string,
    readonly port: number,
    private readonly opts: UpstreamOptions,
  ) {
    this.name = `${host}:${port}`;
  }

  private udp(): dgram.Socket {
    if (this.socket !== undefined) return this.socket;
    const s = dgram.createSocket(isIPv6(this.host) ? 'udp6' : 'udp4');
    s.on('message', (msg, rinfo) => {
      // Only the upstream's own address and port count (the socket is unconnected so that a
      // send never waits for a connect).
      if (rinfo.port !== this.port || rinfo.address !== this.host || msg.length < 12) return;
      const id = msg.readUInt16BE(0);
      const p = this.pending.get(id);
      if (p === undefined) return;
      if (!sameQuestion(msg, p.question)) return;
      this.pending.delete(id);
      clearTimeout(p.timer);
      p.resolve(msg);
    });
    s.on('error', () => {
      // A broken socket fails every pending query; the next one opens a new socket.
      for (const [id, p] of this.pending) {
        clearTimeout(p.timer);
        this.pending.delete(id);
        p.reject(new UpstreamError('socket error'));
      }
      s.close();
      this.retired.delete(s);
      if (this.socket === s) this.socket = undefined;
    });
    this.socket = s;
    this.socketSince = Date.now();
    return s;
  }

  /**
   * After a timeout the next query leaves from a new socket, so from a new source port.
   * Everything between us and the upstream that keys on the 5-tuple then decides afresh: a
   * conntrack entry made before kube-proxy wrote the Service's DNAT rule (or pointing at a
   * kube-dns pod that has gone) is followed by every later packet of the same tuple for as
   * long as those packets keep it alive, so one long-lived socket could stay cut off for good.
   * Answers still in flight to the old socket are taken until they can no longer count.
   */
  private retireSocket(): void {
    const s = this.socket;
    if (s === undefined || Date.now() - this.socketSince < this.opts.timeoutMs) return;
    this.socket = undefined;
    this.retired.add(s);
    setTimeout(() => {
      if (this.retired.delete(s)) s.close();
    }, this.opts.timeoutMs).unref();
  }

  /** One UDP exchange. `query` is a full message; its ID is replaced. */
  queryUdp(query: Buffer, questionEnd: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const id = freeId(this.pending);
      if (id === undefined) {
        reject(new UpstreamBusyError('no free query ID'));
        return;
      }
      query.writeUInt16BE(id, 0);
      const question = query.subarray(12, questionEnd);
      const timer = setTimeout(() => {
        this.pending.delete(id);
        this.retireSocket();
        reject(new UpstreamError('timeout'));
      }, this.opts.timeoutMs);
      this.pending.set(id, { resolve, reject, question, timer });
      this.udp().send(query, this.port, this.host, (err) => {
        if (err) {
          clearTimeout(timer);
          this.pending.delete(id);
          reject(new UpstreamError(`send: ${err.message}`));
        }
      });
    });
  }

  /** One TCP exchange on a fresh connection. */
  queryTcp(query: Buffer, questionEnd: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const id = randomInt(0, 65536);
      query.writeUInt16BE(id, 0);
      const question = query.subarray(12, questionEnd);
      const sock = net.connect({ host: this.host, port: this.port });
      const frames = new FrameBuffer();
      const done = (err: Error | undefined, msg?: Buffer): void => {
        clearTimeout(timer);
        sock.destroy();
        if (err) reject(err);
        else resolve(msg as Buffer);
      };
      const timer = setTimeout(() => done(new UpstreamError('timeout')), this.opts.timeoutMs);
      sock.on('connect', () => {
        sock.write(frame(query));
      });
      sock.on('data', (chunk: Buffer) => {
        frames.push(chunk);
        const msg = frames.take();
        if (msg === undefined) return;
        if (msg.length < 12 || msg.readUInt16BE(0) !== id || !sameQuestion(msg, question)) done(new UpstreamError('mismatched TCP answer'));
        else done(undefined, Buffer.from(msg));
      });
      sock.on('error', (e) => done(new UpstreamError(`tcp: ${e.message}`)));
      sock.on('close', () => done(new UpstreamError('tcp: closed before an answer')));
    });
  }

  close(): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(new UpstreamError('closed'));
    }
    this.socket?.close();
    this.socket = undefined;
    for (const s of this.retired) s.close();
    this.retired.clear();
  }
}

/** The response's question equals ours, compared case-insensitively (0x20 tolerant). */
function sameQuestion(msg: Buffer, question: Buffer): boolean {
  if (msg.readUInt16BE(4) !== 1 || msg.length < 12 + question.length) return false;
  for (let i = 0; i < question.length; i++) {
    let a = msg[12 + i] as number;
    let b = question[i] as number;
    if (a >= 0x41 && a <= 0x5a) a |= 0x20;
    if (b >= 0x41 && b <= 0x5a) b |= 0x20;
    if (a !== b) return false;
  }
  return true;
}

/** What the client asked for that changes the upstream's answer (RFC 6840 5.7-5.9). */
export interface UpstreamFlags {
  /** The client's DO bit: DNSSEC records in the answer. */
  readonly dnssecOk: boolean;
  /** The client's CD bit: the upstream is not to validate (so may hand back bogus data). */
  readonly checkingDisabled: boolean;
}

export interface UpstreamAnswer {
  readonly response: Buffer;
  readonly upstream: string;
}

export class UpstreamPool {
  private readonly upstreams: Upstream[];

  /**
   * `stats`: where each upstream's answers, failures and round trips are counted, by its
   * index in `addrs` (an array with room for that many: statsLength(addrs.length)), plus
   * `statsBase` when several pools count into one array (stub domains after --upstream).
   */
  constructor(
    addrs: readonly { host: string; port: number }[],
    private readonly opts: UpstreamOptions,
    private readonly stats: QueryStats = new QueryStats(),
    private readonly statsBase = 0,
  ) {
    this.upstreams = addrs.map((a) => new Upstream(a.host, a.port, opts));
  }

  get size(): number {
    return this.upstreams.length;
  }

  /** True when every upstream is currently marked down. */
  allDown(now = Date.now()): boolean {
    return this.upstreams.every((u) => u.downUntil > now);
  }

  /** Health view for logs and tests. */
  health(now = Date.now()): { upstream: string; up: boolean }[] {
    return this.upstreams.map((u) => ({ upstream: u.name, up: u.downUntil <= now }));
  }

  private order(now: number): Upstream[] {
    const up = this.upstreams.filter((u) => u.downUntil <= now);
    const down = this.upstreams.filter((u) => u.downUntil > now).sort((a, b) => a.downUntil - b.downUntil);
    return up.concat(down);
  }

  /**
   * Sends the client's question (bytes 12..questionEnd of `clientQuery`) upstream with RD,
   * the client's DO and CD, and our own EDNS, and returns the first usable answer.
   */
  async resolve(clientQuery: Buffer, questionEnd: number, flags: UpstreamFlags = NO_FLAGS): Promise<UpstreamAnswer> {
    const attempts: string[] = [];
    let lastResponse: Buffer | undefined;
    for (const u of this.order(Date.now())) {
      const index = this.statsBase + this.upstreams.indexOf(u);
      const query = buildUpstreamQuery(clientQuery, questionEnd, this.opts.udpSize, flags);
      const started = process.hrtime.bigint();
      try {
        let response = await u.queryUdp(query, questionEnd);
        let tcp = false;
        if (((response[2] as number) & HI_TC) !== 0) {
          response = await u.queryTcp(query, questionEnd);
          tcp = true;
        }
        const rcode = (response[3] as number) & LO_RCODE;
        this.count((s) => s.upstreamAnswer(index, tcp, rcode, Number(process.hrtime.bigint() - started) / 1e9));
        // SERVFAIL, NOTIMP, REFUSED, FORMERR: this upstream could not answer; another may.
        if (rcode !== 0 && rcode !== 3) {
          this.count((s) => s.upstreamFailure(index, 'rcode'));
          attempts.push(`${u.name}: rcode ${rcode}`);
          lastResponse = response;
          continue;
        }
        u.downUntil = 0;
        return { response, upstream: u.name };
      } catch (err) {
        const reason: UpstreamFailure = err instanceof UpstreamBusyError ? 'busy' : err instanceof UpstreamError && err.message === 'timeout' ? 'timeout' : 'error';
        this.count((s) => s.upstreamFailure(index, reason));
        // Busy is our own limit, not a sign the upstream is down.
        if (reason !== 'busy') u.downUntil = Date.now() + this.opts.downMs;
        attempts.push(`${u.name}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    throw new AllUpstreamsFailedError(attempts, lastResponse);
  }

  /** HOST:PORT of each upstream, in the order given (the order of their stats). */
  get names(): string[] {
    return this.upstreams.map((u) => u.name);
  }

  /** Counts only when the stats array has room for every upstream (a pool built without one has not). */
  private count(f: (s: QueryStats) => void): void {
    if (this.stats.upstreams >= this.statsBase + this.upstreams.length) f(this.stats);
  }

  close(): void {
    for (const u of this.upstreams) u.close();
  }
}

const NO_FLAGS: UpstreamFlags = { dnssecOk: false, checkingDisabled: false };

/**
 * Header + the client's question bytes + our OPT. RD is always set: the upstream recurses
 * for us. AD is always set too (RFC 6840 5.7: it asks for the AD bit without DNSSEC records),
 * so the cached answer knows whether the upstream validated it; CD and DO are the client's.
 */
export function buildUpstreamQuery(clientQuery: Buffer, questionEnd: number, udpSize: number, flags: UpstreamFlags = NO_FLAGS): Buffer {
  const out = Buffer.allocUnsafe(questionEnd + 11);
  out.writeUInt16BE(0, 0);
  out[2] = 0x01; // RD
  out[3] = 0x20 | (flags.checkingDisabled ? 0x10 : 0); // AD, CD
  out.writeUInt16BE(1, 4);
  out.writeUInt16BE(0, 6);
  out.writeUInt16BE(0, 8);
  out.writeUInt16BE(1, 10);
  clientQuery.copy(out, 12, 12, questionEnd);
  const o = questionEnd;
  out[o] = 0;
  out.writeUInt16BE(41, o + 1);
  out.writeUInt16BE(udpSize, o + 3);
  out.writeUInt32BE(flags.dnssecOk ? 0x8000 : 0, o + 5); // extended rcode, version, DO
  out.writeUInt16BE(0, o + 9);
  return out;
}
