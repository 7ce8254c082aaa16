/**
 * TSIG replay detection: the MACs of the signed requests taken while they are still inside
 * their time window. A signed message is valid for `fudge` seconds either side of its signing
 * time, so a copy (a replay, or an attacker's resend) verifies just as well as the original
 * until the window closes; remembering each MAC until then catches every copy. Bounded: when
 * full, the oldest entry goes and its signing time becomes a floor — anything signed at or
 * before the floor is refused, since it can no longer be told apart from a forgotten copy
 * (the cost of the bound falls on messages delayed by more than the cache's span, never on
 * safety).
 */

export interface ReplayVerdict {
  readonly fresh: boolean;
  /** Why a message was refused, for the log. */
  readonly reason?: string;
}

interface Entry {
  readonly expires: number;
  readonly signed: number;
}

export class ReplayCache {
  private readonly seen = new Map<string, Entry>();
  private floor = Number.NEGATIVE_INFINITY;

  constructor(private readonly maxEntries = 100_000) {}

  get size(): number {
    return this.seen.size;
  }

  /**
   * Records a verified message's MAC; `fresh: false` when it was seen before (or may have
   * been, below the floor). `now`, `timeSigned` and `fudge` in seconds.
   */
  admit(keyName: string, mac: Uint8Array, timeSigned: number, fudge: number, now: number): ReplayVerdict {
    this.expire(now);
    const id = `${keyName}\u0000${Buffer.from(mac.buffer, mac.byteOffset, mac.byteLength).toString('base64')}`;
    if (this.seen.has(id)) return { fresh: false, reason: 'a copy of a message already taken' };
    if (timeSigned <= this.floor) return { fresh: false, reason: `signed at ${timeSigned}, no later than the replay cache remembers (${this.floor})` };
    if (this.seen.size >= this.maxEntries) {
      const [oldId, old] = this.seen.entries().next().value as [string, Entry];
      this.seen.delete(oldId);
      if (old.signed > this.floor) this.floor = old.signed;
    }
    this.seen.set(id, { expires: timeSigned + fudge, signed: timeSigned });
    return { fresh: true };
  }

  /**
   * Drops entries whose window has closed (a copy would now fail the time check anyway).
   * Insertion order is nearly expiry order (signers use one fudge and sign as they send), so
   * this stops at the first live entry rather than scanning everything; a rare entry with a
   * longer fudge only delays the ones behind it.
   */
  private expire(now: number): void {
    for (const [id, e] of this.seen) {
      if (e.expires >= now) break;
      this.seen.delete(id);
    }
  }
}
