/**
 * Leader election on a coordination.k8s.io Lease, the client-go way: a candidate takes the
 * lease when it is free or when its holder has not renewed it for a whole lease duration
 * as timed by this process's own clock (observed change time, not the holder's renewTime,
 * so clock skew between nodes does not matter); the leader renews every retry period and
 * steps down when it could not renew within the renew deadline.
 *
 * Every Lease call carries a deadline (an AbortSignal): a leader's ends at its renew
 * deadline, counted from its last successful renewal, so a request hung on a
 * silent connection cannot keep a deposed leader in office; a candidate's lasts one renew
 * deadline. The standby waits a whole lease duration on its own clock before taking over,
 * so with renewDeadline < leaseDuration the old leader has stopped first.
 */
import type { LeaseRecord, LeaseWrite } from '../k8s/lease.js';
import type { Logger } from '../observability/logger.js';
import { gauge } from '../observability/metrics.js';

// The election logic needs only the Lease's fields, not the client: tests drive it with an
// in-memory store of the same shape.
export type LeaseRecordLike = LeaseRecord;
export type LeaseWriteLike = LeaseWrite;

/** Each call gives up (rejects) when `signal` aborts. */
export interface LeaseStore {
  get(signal?: AbortSignal): Promise<LeaseRecordLike | undefined>;
  create(w: LeaseWriteLike, signal?: AbortSignal): Promise<LeaseRecordLike | undefined>;
  update(prev: LeaseRecordLike, w: LeaseWriteLike, signal?: AbortSignal): Promise<LeaseRecordLike | undefined>;
}

export class LeaseCallTimeoutError extends Error {
  override readonly name = 'LeaseCallTimeoutError';
}

export interface LeaderOptions {
  readonly identity: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly log: Logger;
  /** `term`: this leadership's term (leaseTerm), for fencing. */
  readonly onStartedLeading: (term: bigint) => Promise<void> | void;
  readonly onStoppedLeading: () => Promise<void> | void;
}

const isLeader = gauge({ name: 'dnssync_leader', help: '1 while this controller holds the leader lease.' });

/**
 * The leadership term a Lease record stands for: its transitions (one more at every change of
 * holder) under the Lease's creation time in seconds, so a Lease deleted and created again —
 * whose transitions start from 0 — still gives terms above every earlier one (the API
 * server's clock orders the creations). Unsigned 64-bit: 32 bits each.
 */
export function leaseTerm(r: Pick<LeaseRecordLike, 'transitions' | 'created'>): bigint {
  const created = r.created ? BigInt(Math.max(0, Math.floor(r.created.getTime() / 1000))) & 0xffff_ffffn : 0n;
  return (created << 32n) | BigInt(r.transitions >>> 0);
}

export class LeaderElector {
  private observed: LeaseRecordLike | undefined;
  private observedAt = 0;
  private leading = false;
  private lastRenew = 0;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  /** Set when a leader finds the Lease held by someone else: it steps down at once. */
  private lostTo: string | undefined;

  constructor(
    private readonly store: LeaseStore,
    private readonly opts: LeaderOptions,
  ) {}

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.loop = this.run();
  }

  /**
   * Checks the Lease now rather than at the next retry period: called when an agent says it
   * follows a newer leader. A leader that finds another holder steps down at once.
   */
  recheck(): void {
    this.wake?.();
  }

  /** Stops campaigning; a leader releases the lease so a standby takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.wake?.();
    await this.loop;
    if (this.leading) {
      this.leading = false;
      isLeader.set(0);
      await this.opts.onStoppedLeading();
      try {
        await this.withDeadline(this.opts.renewDeadlineMs, async (signal) => {
          const cur = await this.store.get(signal);
          if (cur && cur.holder === this.opts.identity) {
            await this.store.update(cur, { holder: '', durationSeconds: 1, acquireTime: cur.acquireTime, renewTime: new Date(), transitions: cur.transitions }, signal);
          }
        });
      } catch (err) {
        this.opts.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not release the lease');
      }
    }
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let ok = false;
      const start = performance.now();
      // A leader's attempt may take only what is left of its renew deadline.
      const budget = this.leading ? this.lastRenew + this.opts.renewDeadlineMs - start : this.opts.renewDeadlineMs;
      try {
        ok = budget > 0 && (await this.withDeadline(budget, (signal) => this.tryAcquireOrRenew(signal)));
      } catch (err) {
        this.opts.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'lease request failed');
      }
      const now = performance.now();
      if (ok) {
        // From when the renewal came back, as client-go's observedTime: timing it from when it
        // was sent would count the API server's latency twice (this call's and the next's)
        // against the deadline, and a leader on a slow API server would step down and back
        // up again and again. Safe while the answer takes less than leaseDuration minus
        // renewDeadline to come back after the API server committed it.
        this.lastRenew = now;
        if (!this.leading) {
          this.leading = true;
          isLeader.set(1);
          const term = this.observed ? leaseTerm(this.observed) : 0n;
          this.opts.log.info({ identity: this.opts.identity, term: String(term) }, 'became leader');
          try {
            await this.opts.onStartedLeading(term);
          } catch (err) {
            // Could not take up the work (e.g. the transfer port is taken): give the term
            // back and try again next period rather than hold a lease and do nothing.
            this.opts.log.error({ err: err instanceof Error ? err.message : String(err) }, 'could not start leading; retrying');
            this.leading = false;
            isLeader.set(0);
            await this.opts.onStoppedLeading();
          }
        }
      } else if (this.leading && this.lostTo !== undefined) {
        // Someone else renewed the Lease since we did: we were deposed (our renewals stalled
        // longer than the lease duration, as the other side saw it). Waiting for our renew
        // deadline would only keep two leaders pushing.
        this.leading = false;
        isLeader.set(0);
        this.opts.log.warn({ identity: this.opts.identity, holder: this.lostTo }, 'the lease is held by another controller, stepping down');
        await this.opts.onStoppedLeading();
      } else if (this.leading && now - this.lastRenew >= this.opts.renewDeadlineMs) {
        this.leading = false;
        isLeader.set(0);
        this.opts.log.warn({ identity: this.opts.identity }, 'lost the lease (renew deadline passed), stepping down');
        await this.opts.onStoppedLeading();
      }
      this.lostTo = undefined;
      if (this.stopped) break;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        // Jitter so standbys do not hit the API in lockstep.
        this.timer = setTimeout(resolve, this.opts.retryPeriodMs * (this.leading ? 1 : 1 + Math.random() * 0.2));
      });
    }
  }

  /**
   * Runs `call` with a signal that aborts after `ms`, and gives up on it then even if the
   * store ignores the signal: the loop must go on to step down.
   */
  private async withDeadline<T>(ms: number, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const ctl = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        ctl.abort();
        reject(new LeaseCallTimeoutError(`Lease call gave no answer within ${Math.round(ms)} ms`));
      }, ms);
    });
    try {
      const p = call(ctl.signal);
      p.catch(() => undefined); // its late rejection (the abort) is no one's business
      return await Promise.race([p, expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async tryAcquireOrRenew(signal: AbortSignal): Promise<boolean> {
    const me = this.opts.identity;
    const now = new Date();
    const durationSeconds = Math.max(1, Math.ceil(this.opts.leaseDurationMs / 1000));
    const cur = await this.store.get(signal);
    if (!cur) {
      const created = await this.store.create({ holder: me, durationSeconds, acquireTime: now, renewTime: now, transitions: 0 }, signal);
      if (created) this.observe(created);
      return created !== undefined;
    }
    if (!this.observed || this.observed.resourceVersion !== cur.resourceVersion) this.observe(cur);
    const heldByOther = cur.holder !== '' && cur.holder !== me;
    if (heldByOther && this.leading) {
      this.lostTo = cur.holder;
      return false;
    }
    if (heldByOther && performance.now() - this.observedAt < cur.durationSeconds * 1000) return false;
    const mine = cur.holder === me;
    const next = await this.store.update(cur, {
      holder: me,
      durationSeconds,
      acquireTime: mine ? cur.acquireTime : now,
      renewTime: now,
      // A holder taking the lease back after it stopped leading (renew deadline missed) is a new
      // term too: its earlier stint may have left agents ahead under the old one.
      transitions: mine && this.leading ? cur.transitions : cur.transitions + 1,
    }, signal);
    if (next) this.observe(next);
    return next !== undefined;
  }

  private observe(r: LeaseRecordLike): void {
    this.observed = r;
    this.observedAt = performance.now();
  }
}
