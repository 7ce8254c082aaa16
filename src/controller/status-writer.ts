/**
 * Batched, rate-limited status writes. Each object has at most one pending write (the
 * newest status replaces an older one still queued), a write waits `delayMs` so that a
 * status which settles quickly (Accepted, then Ready a few ms later) costs one write, and a
 * token bucket caps writes per second: a burst of changes becomes a bounded trickle.
 *
 * Writes come in two priorities. Urgent ones change what a status means (Accepted, Ready).
 * Background ones only refresh a count ("applied on 41/42 nodes"): an agent joining or leaving
 * touches every record's status, and at 100k records those writes would stand for minutes in
 * front of the next record that becomes Ready. Background writes wait longer (so a run of
 * joins coalesces into one write per object) and go only when no urgent write is due; an
 * urgent write for the same object replaces a queued background one.
 */
import type { Logger } from '../observability/logger.js';
import { counter, gauge } from '../observability/metrics.js';

export interface StatusTarget {
  readonly kind: 'DNSRecord' | 'DNSZone';
  readonly namespace?: string | undefined;
  readonly name: string;
}

export type Priority = 'urgent' | 'background';

export type PatchFn = (target: StatusTarget, status: object) => Promise<void>;

export interface StatusWriterOptions {
  readonly patch: PatchFn;
  readonly log: Logger;
  readonly qps?: number;
  readonly burst?: number;
  readonly concurrency?: number;
  readonly delayMs?: number;
  /** Called after a write succeeded, with what was written. */
  readonly written?: (key: string, status: object) => void;
  /** Extra wait of a background write before it is due (default 1000 ms). */
  readonly backgroundDelayMs?: number;
  /** The object is gone (404): forget it. */
  readonly gone?: (key: string) => void;
  readonly isNotFound: (err: unknown) => boolean;
}

interface Item {
  target: StatusTarget;
  status: object;
  due: number;
  attempts: number;
  readonly background: boolean;
}

const writes = counter<'kind' | 'result'>({ name: 'dnssync_status_writes_total', help: 'Status subresource writes by kind and result.', labelNames: ['kind', 'result'] });
const queued = gauge({ name: 'dnssync_status_writes_pending', help: 'Status writes waiting in the queue.' });

export class StatusWriter {
  private readonly queue = new Map<string, Item>();
  private readonly background = new Map<string, Item>();
  private inflight = 0;
  /**
   * Objects with a write in flight. A merge patch carries no resourceVersion, so of two
   * patches in flight for one object the API server keeps whichever it applies last, not the
   * newer: an object's next write waits until its previous one has returned.
   */
  private readonly inflightKeys = new Set<string>();
  private tokens: number;
  private lastRefill = performance.now();
  private timer: NodeJS.Timeout | undefined;
  private timerDue = 0;
  private closed = false;
  private readonly qps: number;
  private readonly burst: number;
  private readonly concurrency: number;
  private readonly delayMs: number;
  private readonly backgroundDelayMs: number;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly opts: StatusWriterOptions) {
    this.qps = opts.qps ?? 100;
    this.burst = opts.burst ?? 200;
    this.concurrency = opts.concurrency ?? 8;
    this.delayMs = opts.delayMs ?? 50;
    this.backgroundDelayMs = opts.backgroundDelayMs ?? 1000;
    this.tokens = this.burst;
  }

  get pending(): number {
    return this.queue.size + this.background.size + this.inflight;
  }

  /** Queues the newest status of an object; a queued older one is replaced. */
  enqueue(key: string, target: StatusTarget, status: object, priority: Priority = 'urgent'): void {
    if (this.closed) return;
    const old = this.queue.get(key) ?? (priority === 'background' ? this.background.get(key) : undefined);
    if (old) {
      old.status = status;
      old.target = target;
    } else if (priority === 'urgent') {
      const demoted = this.background.get(key);
      this.background.delete(key);
      this.queue.set(key, { target, status, due: performance.now() + this.delayMs, attempts: demoted?.attempts ?? 0, background: false });
    } else {
      this.background.set(key, { target, status, due: performance.now() + this.delayMs + this.backgroundDelayMs, attempts: 0, background: true });
    }
    this.gaugeQueued();
    this.schedule(priority === 'urgent' ? this.delayMs : this.delayMs + this.backgroundDelayMs);
  }

  /** Drops a queued write (the object was deleted). */
  drop(key: string): void {
    this.queue.delete(key);
    this.background.delete(key);
  }

  /** Forgets everything queued: this process is no longer the leader. */
  clear(): void {
    this.queue.clear();
    this.background.clear();
    queued.set(0);
  }

  private gaugeQueued(): void {
    queued.set(this.queue.size + this.background.size);
  }

  close(): void {
    this.closed = true;
    this.clear();
    if (this.timer) clearTimeout(this.timer);
  }

  /** Resolves when nothing is queued or in flight (for tests and shutdown). */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Runs pump in `ms` unless it is already set to run by then. */
  private schedule(ms: number): void {
    if (this.closed) return;
    const due = performance.now() + Math.max(0, ms);
    if (this.timer && this.timerDue <= due) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerDue = due;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.pump();
      },
      Math.max(0, ms),
    );
  }

  private refill(): void {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.lastRefill) / 1000) * this.qps);
    this.lastRefill = now;
  }

  private pump(): void {
    if (this.closed) return;
    const now = performance.now();
    this.refill();
    let nextDue = Number.POSITIVE_INFINITY;
    // The urgent queue first: the loop returns while a due urgent write still waits for a
    // token or a slot, so background writes go only when none does.
    for (const q of [this.queue, this.background]) {
      for (const [key, item] of q) {
        if (this.inflight >= this.concurrency) return;
        // Goes once the write in flight returns (write() pumps again then).
        if (this.inflightKeys.has(key)) continue;
        if (item.due > now) {
          // Queue order is mostly due order; urgent retries with backoff may sit further back.
          // The background queue can hold every object at once: stop at its first not due.
          nextDue = Math.min(nextDue, item.due);
          if (q === this.background) break;
          continue;
        }
        if (this.tokens < 1) {
          this.schedule(((1 - this.tokens) / this.qps) * 1000);
          return;
        }
        this.tokens -= 1;
        q.delete(key);
        this.inflight++;
        this.inflightKeys.add(key);
        void this.write(key, item);
      }
    }
    if (nextDue !== Number.POSITIVE_INFINITY) this.schedule(nextDue - now);
    this.gaugeQueued();
    this.notifyIdle();
  }

  private async write(key: string, item: Item): Promise<void> {
    try {
      await this.opts.patch(item.target, item.status);
      writes.inc({ kind: item.target.kind, result: 'ok' });
      this.opts.written?.(key, item.status);
    } catch (err) {
      if (this.opts.isNotFound(err)) {
        writes.inc({ kind: item.target.kind, result: 'gone' });
        this.opts.gone?.(key);
      } else {
        writes.inc({ kind: item.target.kind, result: 'error' });
        const attempts = item.attempts + 1;
        const backoff = Math.min(30_000, 200 * 2 ** Math.min(attempts, 8));
        this.opts.log.warn({ record: key, err: err instanceof Error ? err.message : String(err), retryInMs: backoff }, 'status write failed');
        if (!this.queue.has(key) && !this.background.has(key) && !this.closed) (item.background ? this.background : this.queue).set(key, { ...item, attempts, due: performance.now() + backoff });
      }
    } finally {
      this.inflight--;
      this.inflightKeys.delete(key);
      if (this.queue.size + this.background.size > 0) this.schedule(0);
      else this.notifyIdle();
    }
  }

  private notifyIdle(): void {
    if (this.pending !== 0) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }
}
