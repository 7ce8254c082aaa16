/**
 * Push streams: one persistent TCP connection from the primary to a dnssync agent's sync
 * port, for NOTIFYs whose diff does not fit one datagram. Over UDP such an agent catches up
 * by legs, one datagram and one round trip per ~17 A-record changes: at thousands of agents
 * and 100 changes/s that is several NOTIFY/ACK round trips per agent per second, and the
 * leader's fan-out drowns in them. On its stream the agent gets everything since the serial it
 * acknowledged in one signed message (up to STREAM_MAX_NOTIFY bytes) and answers once.
 *
 * The agent already takes NOTIFYs over TCP (RFC 1996 allows either transport) and applies
 * them in arrival order; nothing else changes — same TSIG, same answer, same replay cache.
 * A stream that cannot be opened (a peer that takes no TCP, a path that passes only UDP)
 * is not tried again for a while: that agent keeps getting datagrams. An idle stream closes.
 */
import { connect, type Socket } from 'node:net';
import { frame, readFrames } from './tcp.js';

/** Largest NOTIFY sent over a stream (a DNS message over TCP may take 65,535 bytes). */
export const STREAM_MAX_NOTIFY = 60_000;

export interface PushStreamOptions {
  /** Local address streams leave from (the primary's own, as its datagrams do). */
  readonly localAddress?: string;
  /** An unused stream closes after this long (the agent closes idle ones at 30 s). */
  readonly idleMs?: number;
  /** After a stream failed to open, datagrams only to that agent for this long. */
  readonly retryAfterMs?: number;
  /** Bytes queued unsent on one stream beyond which it takes no more (the agent is not reading). */
  readonly maxQueued?: number;
  /** Each message an agent sends back on its stream. */
  readonly onMessage: (host: string, msg: Buffer) => void;
  /** A stream closed (what was written on it may not have arrived). */
  readonly onClose?: (host: string, port: number) => void;
}

interface Stream {
  readonly sock: Socket;
  connected: boolean;
}

export class PushStreams {
  private readonly streams = new Map<string, Stream>();
  private readonly failedUntil = new Map<string, number>();
  private readonly idleMs: number;
  private readonly retryAfterMs: number;
  private readonly maxQueued: number;
  private closed = false;

  constructor(private readonly opts: PushStreamOptions) {
    this.idleMs = opts.idleMs ?? 20_000;
    this.retryAfterMs = opts.retryAfterMs ?? 30_000;
    this.maxQueued = opts.maxQueued ?? 1 << 20;
  }

  /** Streams open (or opening) now. */
  get size(): number {
    return this.streams.size;
  }

  /** Whether a message to this agent may go over its stream now. */
  usable(host: string, port: number, now = Date.now()): boolean {
    if (this.closed) return false;
    const k = key(host, port);
    const s = this.streams.get(k);
    if (s) return !s.sock.destroyed && s.sock.writableLength < this.maxQueued;
    const until = this.failedUntil.get(k);
    if (until === undefined) return true;
    if (now < until) return false;
    this.failedUntil.delete(k);
    return true;
  }

  /** Writes one message on the agent's stream (opening it first); false when it cannot. */
  send(host: string, port: number, msg: Buffer): boolean {
    if (!this.usable(host, port)) return false;
    const k = key(host, port);
    const s = this.streams.get(k) ?? this.open(k, host, port);
    s.sock.write(frame(msg));
    return true;
  }

  /** Closes every stream (the primary closes). */
  close(): void {
    this.closed = true;
    for (const s of this.streams.values()) s.sock.destroy();
    this.streams.clear();
  }

  private open(k: string, host: string, port: number): Stream {
    const sock = connect({ host, port, ...(this.opts.localAddress ? { localAddress: this.opts.localAddress } : {}) });
    const s: Stream = { sock, connected: false };
    this.streams.set(k, s);
    sock.setNoDelay(true);
    sock.setTimeout(this.idleMs, () => sock.destroy());
    sock.on('connect', () => (s.connected = true));
    sock.on('error', () => sock.destroy());
    sock.on('close', () => {
      if (this.streams.get(k) === s) this.streams.delete(k);
      // Never opened: this peer or path takes no TCP. Closed after use: reopened when needed.
      if (!s.connected) this.failedUntil.set(k, Date.now() + this.retryAfterMs);
      if (!this.closed) this.opts.onClose?.(host, port);
    });
    readFrames(sock, (msg) => this.opts.onMessage(host, msg));
    return s;
  }
}

function key(host: string, port: number): string {
  return `${host}\u0000${port}`;
}
