/**
 * How many agents may have a NOTIFY outstanding at once, and how many of those may be pulling.
 *
 * Every outstanding NOTIFY comes back as one ACK datagram, and the ACKs of a fan-out arrive
 * together: thousands at once overflow the leader's UDP receive buffer (about 200 datagrams
 * at Linux's default 208 KiB), the lost ones are retried, and the retries make it worse. So
 * a fan-out is a sliding window: an agent holds a slot from its first NOTIFY until it is in
 * sync, and the next agent in line gets the slot. A NOTIFY that makes the agent pull (no diff
 * reaches it: a cold start, a new leader without its predecessor's journal) holds one of a
 * smaller number of pull slots instead, so a restart resyncs the fleet a few transfers at a
 * time rather than all at once.
 *
 * An agent that keeps not answering gives its slot back (the caller releases it) and carries
 * on retrying outside the window, so dead nodes cannot shrink it. Queued agents leave in
 * arrival order.
 */

export interface WindowLimits {
  /** Agents with a NOTIFY outstanding at once (default 256). */
  readonly maxInFlight?: number;
  /** Of those, agents sent a NOTIFY that makes them pull over TCP (default 32). */
  readonly maxPulls?: number;
}

export class SendWindow<T> {
  readonly maxInFlight: number;
  readonly maxPulls: number;
  private readonly held = new Set<T>();
  private readonly pulls = new Set<T>();
  /** Waiting agents in arrival order, and whether each waits for a pull slot. */
  private queue: T[] = [];
  private head = 0;
  private readonly waiting = new Map<T, boolean>();

  constructor(limits: WindowLimits = {}) {
    this.maxInFlight = Math.max(1, limits.maxInFlight ?? 256);
    this.maxPulls = Math.max(1, Math.min(this.maxInFlight, limits.maxPulls ?? 32));
  }

  get inFlight(): number {
    return this.held.size;
  }

  get pulling(): number {
    return this.pulls.size;
  }

  get queued(): number {
    return this.waiting.size;
  }

  /** Whether `item` holds a slot (it may send now). */
  holds(item: T): boolean {
    return this.held.has(item);
  }

  /**
   * Takes a slot for `item` (a pull slot when `pull`), or queues it and returns false; it is
   * handed back by `release` once a slot frees. An item already holding a slot keeps it (and
   * takes a pull slot when it now needs one and one is free).
   */
  admit(item: T, pull: boolean): boolean {
    if (this.held.has(item)) {
      if (pull && this.pulls.size < this.maxPulls) this.pulls.add(item);
      return true;
    }
    if (this.held.size < this.maxInFlight && (!pull || this.pulls.size < this.maxPulls) && this.waiting.size === 0) {
      this.held.add(item);
      if (pull) this.pulls.add(item);
      return true;
    }
    if (!this.waiting.has(item)) this.queue.push(item);
    this.waiting.set(item, pull || this.waiting.get(item) === true);
    return false;
  }

  /**
   * Gives `item`'s slot back (or drops it from the queue) and returns the queued items that
   * now hold slots, to be sent. Items the caller no longer cares about are simply sent and
   * released again by it.
   */
  release(item: T): T[] {
    if (this.waiting.delete(item)) return [];
    if (!this.held.delete(item)) return [];
    this.pulls.delete(item);
    return this.drain();
  }

  /** Drops everything (the primary closes). */
  clear(): void {
    this.held.clear();
    this.pulls.clear();
    this.waiting.clear();
    this.queue = [];
    this.head = 0;
  }

  private drain(): T[] {
    const out: T[] = [];
    while (this.head < this.queue.length && this.held.size < this.maxInFlight) {
      const item = this.queue[this.head] as T;
      const pull = this.waiting.get(item);
      if (pull === undefined) {
        this.head++; // released while queued
        continue;
      }
      // Order is kept: a pull waits for a pull slot and holds back those behind it, so a
      // restart's transfers go a few at a time without starving anyone.
      if (pull && this.pulls.size >= this.maxPulls) break;
      this.head++;
      this.waiting.delete(item);
      this.held.add(item);
      if (pull) this.pulls.add(item);
      out.push(item);
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return out;
  }
}
