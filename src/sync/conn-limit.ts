/**
 * Admission of TCP connections against two caps: per client address and in total. A
 * connection over either cap is closed at accept, counted by the caller, and logged — at
 * most once per interval per listener, with how many were refused since, because a client
 * hammering a cap would otherwise turn the log into a second denial of service.
 *
 * Used by the agent's DNS port and by both ends of the sync protocol (the primary's transfer
 * port, the agent's sync port).
 */
import type { Socket } from 'node:net';
import type { Logger } from '../observability/logger.js';

export interface ConnLimits {
  /** Open connections one client address may hold. */
  readonly perClient: number;
  /** Open connections the listener holds at most. */
  readonly total: number;
}

export type Refusal = 'per_client' | 'total';

/** Counts open connections by client address; pure bookkeeping, no sockets. */
export class ConnLimiter {
  private readonly byClient = new Map<string, number>();
  private openCount = 0;

  constructor(readonly limits: ConnLimits) {}

  get open(): number {
    return this.openCount;
  }

  /** Takes a slot for `client`, or says which cap refuses it (then nothing is taken). */
  admit(client: string): Refusal | undefined {
    if (this.openCount >= this.limits.total) return 'total';
    const n = this.byClient.get(client) ?? 0;
    if (n >= this.limits.perClient) return 'per_client';
    this.byClient.set(client, n + 1);
    this.openCount++;
    return undefined;
  }

  /** Gives back a slot `admit` took. */
  release(client: string): void {
    const n = this.byClient.get(client);
    if (n === undefined) return;
    if (n <= 1) this.byClient.delete(client);
    else this.byClient.set(client, n - 1);
    this.openCount--;
  }
}

/** Logs refusals at most once per `intervalMs`, with the count since the last line. */
export class RefusalLog {
  private suppressed = 0;
  private last = -Infinity;

  constructor(
    private readonly log: () => Logger,
    private readonly listener: string,
    private readonly intervalMs = 10_000,
  ) {}

  refused(client: string, reason: Refusal, limits: ConnLimits, now = Date.now()): void {
    this.suppressed++;
    if (now - this.last < this.intervalMs) return;
    this.last = now;
    const limit = reason === 'total' ? limits.total : limits.perClient;
    this.log().warn({ listener: this.listener, client, reason, limit, refused: this.suppressed }, 'TCP connection refused at accept: connection cap reached');
    this.suppressed = 0;
  }
}

/**
 * Admits `sock` or closes it at once. Returns false when refused; an admitted socket gives
 * its slot back when it closes.
 */
export function admitSocket(sock: Socket, limiter: ConnLimiter, onRefused: (client: string, reason: Refusal) => void): boolean {
  const client = sock.remoteAddress ?? '';
  const refusal = limiter.admit(client);
  if (refusal !== undefined) {
    sock.on('error', () => undefined);
    sock.destroy();
    onRefused(client, refusal);
    return false;
  }
  sock.once('close', () => limiter.release(client));
  return true;
}
