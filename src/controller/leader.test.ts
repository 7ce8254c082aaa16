import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { waitFor } from '../../test/util/wait.js';
import { LeaderElector, leaseTerm, type LeaseRecordLike, type LeaseStore, type LeaseWriteLike } from './leader.js';

/** An in-memory Lease with the API server's compare-and-swap on resourceVersion. */
class MemoryLease implements LeaseStore {
  rec: LeaseRecordLike | undefined;
  private rv = 0;
  down = false;
  /** When (performance.now()) the last write succeeded: where a standby's lease clock starts. */
  lastWriteAt = 0;

  async get(): Promise<LeaseRecordLike | undefined> {
    if (this.down) throw new Error('connection refused');
    return this.rec;
  }

  async create(w: LeaseWriteLike): Promise<LeaseRecordLike | undefined> {
    if (this.down) throw new Error('connection refused');
    if (this.rec) return undefined;
    this.rec = { ...w, resourceVersion: String(++this.rv) };
    this.lastWriteAt = performance.now();
    return this.rec;
  }

  async update(prev: LeaseRecordLike, w: LeaseWriteLike): Promise<LeaseRecordLike | undefined> {
    if (this.down) throw new Error('connection refused');
    if (!this.rec || this.rec.resourceVersion !== prev.resourceVersion) return undefined;
    this.rec = { ...w, resourceVersion: String(++this.rv) };
    this.lastWriteAt = performance.now();
    return this.rec;
  }
}

const log = pino({ level: 'silent' });

const LEASE_MS = 1000;
const RENEW_DEADLINE_MS = 600;

function elector(store: LeaseStore, identity: string, events: string[], onStop?: () => void): LeaderElector {
  return new LeaderElector(store, {
    identity,
    leaseDurationMs: LEASE_MS,
    renewDeadlineMs: RENEW_DEADLINE_MS,
    retryPeriodMs: 50,
    log,
    onStartedLeading: () => void events.push(`${identity} leads`),
    onStoppedLeading: () => {
      events.push(`${identity} stops`);
      onStop?.();
    },
  });
}

/**
 * A Lease behind a connection that went silent: once `hang` is set, every call waits for ever
 * (as a request on a blackholed TCP connection does) unless its signal aborts it.
 */
class HangingLease extends MemoryLease {
  hang = false;
  aborted = 0;
  private wait<T>(signal: AbortSignal | undefined, then: () => Promise<T>): Promise<T> {
    if (!this.hang) return then();
    return new Promise<T>((_resolve, reject) => {
      signal?.addEventListener('abort', () => {
        this.aborted++;
        reject(new Error('aborted'));
      });
    });
  }
  override get(signal?: AbortSignal): Promise<LeaseRecordLike | undefined> {
    return this.wait(signal, () => super.get());
  }
  override create(w: LeaseWriteLike, signal?: AbortSignal): Promise<LeaseRecordLike | undefined> {
    return this.wait(signal, () => super.create(w));
  }
  override update(prev: LeaseRecordLike, w: LeaseWriteLike, signal?: AbortSignal): Promise<LeaseRecordLike | undefined> {
    return this.wait(signal, () => super.update(prev, w));
  }
}

describe('leaseTerm', () => {
  it('grows with every transition, and past all of them when the Lease is created again', () => {
    const created = new Date('2026-01-01T00:00:00Z');
    const t3 = leaseTerm({ transitions: 3, created });
    expect(leaseTerm({ transitions: 4, created }) > t3).toBe(true);
    // Deleted and created a second later: transitions start from 0 again, the term does not.
    expect(leaseTerm({ transitions: 0, created: new Date(created.getTime() + 1000) }) > leaseTerm({ transitions: 2 ** 32 - 1, created })).toBe(true);
  });
});

describe('LeaderElector', () => {
  it('a leader whose Lease calls hang steps down within the renew deadline, and the hung calls are abandoned', async () => {
    const store = new HangingLease();
    const events: string[] = [];
    const a = elector(store, 'a', events);
    a.start();
    await waitFor(() => a.isLeader, { what: 'a leads', timeoutMs: 2000 });
    await waitFor(() => store.rec?.renewTime !== undefined, { what: 'a renewal', timeoutMs: 2000 });
    // The last renewal that can have succeeded was sent before this instant.
    const hungAt = performance.now();
    store.hang = true;
    await waitFor(() => !a.isLeader, { what: 'a steps down', timeoutMs: 3000, intervalMs: 5 });
    const took = performance.now() - hungAt;
    // Renew deadline 600 ms, counted from the last renewal sent; 150 ms for a busy machine.
    expect(took).toBeLessThan(600 + 150);
    expect(events).toEqual(['a leads', 'a stops']);
    expect(store.aborted).toBeGreaterThan(0);
    store.hang = false;
    await a.stop();
  });

  it('one leader at a time; a released lease passes to the standby at once', async () => {
    const store = new MemoryLease();
    const events: string[] = [];
    const a = elector(store, 'a', events);
    a.start();
    await waitFor(() => a.isLeader, { what: 'a leads', timeoutMs: 2000 });
    const b = elector(store, 'b', events);
    b.start();
    const t = Date.now();
    await a.stop();
    await waitFor(() => b.isLeader, { what: 'b takes over', timeoutMs: 2000 });
    expect(Date.now() - t).toBeLessThan(1000);
    expect(events).toEqual(['a leads', 'a stops', 'b leads']);
    await b.stop();
  });

  it('a crashed leader (no renewals) is replaced after the lease duration, not before', async () => {
    const store = new MemoryLease();
    store.rec = { holder: 'dead', durationSeconds: 1, acquireTime: new Date(), renewTime: new Date(), transitions: 3, resourceVersion: 'x' };
    const events: string[] = [];
    const b = elector(store, 'b', events);
    const t = Date.now();
    b.start();
    await waitFor(() => b.isLeader, { what: 'b takes the expired lease', timeoutMs: 3000 });
    expect(Date.now() - t).toBeGreaterThanOrEqual(950);
    expect(store.rec?.transitions).toBe(4);
    await b.stop();
  });

  it('taking back its own lease after it stopped leading is a new term', async () => {
    const store = new MemoryLease();
    // The lease still names 'a' (it missed its renew deadline, or restarted with the same identity).
    store.rec = { holder: 'a', durationSeconds: 1, acquireTime: new Date(), renewTime: new Date(), transitions: 3, resourceVersion: 'x' };
    const a = elector(store, 'a', []);
    a.start();
    await waitFor(() => a.isLeader, { what: 'a leads again', timeoutMs: 3000 });
    expect(store.rec?.transitions).toBe(4);
    // Renewals while it leads keep the term.
    const renewed = store.rec?.renewTime;
    await waitFor(() => store.rec?.renewTime !== renewed, { what: 'a renewal', timeoutMs: 3000 });
    expect(store.rec?.transitions).toBe(4);
    await a.stop();
  });

  it('a leader that cannot renew within the deadline steps down before a standby could take over', async () => {
    const store = new MemoryLease();
    const events: string[] = [];
    let stoppedAt = 0;
    const a = elector(store, 'a', events, () => (stoppedAt = performance.now()));
    a.start();
    await waitFor(() => a.isLeader, { what: 'a leads', timeoutMs: 2000 });
    store.down = true;
    await waitFor(() => !a.isLeader, { what: 'a steps down', timeoutMs: 3000 });
    expect(events).toEqual(['a leads', 'a stops']);
    // A standby's lease clock starts no earlier than the last successful renewal, so a
    // leader still leading a whole lease duration after it is a split brain. Stepping down
    // before the renew deadline would throw leadership away on one slow call.
    const sinceRenew = stoppedAt - store.lastWriteAt;
    expect(sinceRenew).toBeGreaterThanOrEqual(RENEW_DEADLINE_MS);
    expect(sinceRenew).toBeLessThan(LEASE_MS);
    store.down = false;
    await waitFor(() => a.isLeader, { what: 'a leads again once the API is back', timeoutMs: 3000 });
    await a.stop();
  });

  it('a leader that finds the Lease held by another steps down at once, not at its renew deadline; recheck() looks now', async () => {
    for (const viaRecheck of [false, true]) {
      const store = new MemoryLease();
      const events: string[] = [];
      // A long renew deadline (and, for recheck, a long retry period): only seeing the other
      // holder can make it step down within the bound below.
      const a = new LeaderElector(store, {
        identity: 'a',
        leaseDurationMs: 20_000,
        renewDeadlineMs: 10_000,
        retryPeriodMs: viaRecheck ? 30_000 : 50,
        log,
        onStartedLeading: () => void events.push('a leads'),
        onStoppedLeading: () => void events.push('a stops'),
      });
      a.start();
      await waitFor(() => a.isLeader, { what: 'a leads', timeoutMs: 2000 });
      // Another controller took the Lease (a's renewals had stalled for a lease duration, as
      // that one saw it).
      const cur = store.rec as LeaseRecordLike;
      await store.update(cur, { holder: 'b', durationSeconds: cur.durationSeconds, acquireTime: new Date(), renewTime: new Date(), transitions: cur.transitions + 1 });
      const t0 = performance.now();
      if (viaRecheck) a.recheck();
      await waitFor(() => !a.isLeader, { what: `a steps down${viaRecheck ? ' on recheck' : ''}`, timeoutMs: 3000 });
      expect(performance.now() - t0).toBeLessThan(2000);
      expect(events).toEqual(['a leads', 'a stops']);
      expect(store.rec?.holder).toBe('b');
      await a.stop();
    }
  });
});

