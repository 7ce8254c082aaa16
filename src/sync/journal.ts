/**
 * The bounded history of one zone's diffs, enough to bring a replica from any recent serial
 * to the current one with a single condensed diff (RFC 1995 §5 permits condensing). Bounded
 * by entry count and by the number of records it holds, so a burst of large changes cannot
 * grow it without limit; a replica older than the oldest entry falls back to AXFR.
 */
import type { RR } from '../dns/rr.js';
import { recordKey } from '../dns/rdata.js';
import type { ZoneDiff } from '../zone/types.js';

export interface JournalLimits {
  /** Most diffs kept (default 1000). */
  readonly maxEntries?: number;
  /** Most records (deleted + added) kept across all entries (default 100 000). */
  readonly maxRecords?: number;
}

export class Journal {
  private entries: ZoneDiff[] = [];
  private records = 0;
  private readonly maxEntries: number;
  private readonly maxRecords: number;

  constructor(limits: JournalLimits = {}) {
    this.maxEntries = limits.maxEntries ?? 1000;
    this.maxRecords = limits.maxRecords ?? 100_000;
  }

  get length(): number {
    return this.entries.length;
  }

  /** The oldest serial a diff can start from, if any. */
  get oldestSerial(): number | undefined {
    return this.entries[0]?.fromSerial;
  }

  /** Appends a diff; it must start where the previous one ended, else the history restarts. */
  append(diff: ZoneDiff): void {
    const last = this.entries[this.entries.length - 1];
    if (last && last.toSerial !== diff.fromSerial) this.clear();
    this.entries.push(diff);
    this.records += diff.deleted.length + diff.added.length;
    while (this.entries.length > this.maxEntries || (this.records > this.maxRecords && this.entries.length > 1)) {
      const old = this.entries.shift() as ZoneDiff;
      this.records -= old.deleted.length + old.added.length;
    }
  }

  clear(): void {
    this.entries = [];
    this.records = 0;
  }

  /**
   * One diff from `serial` to the newest serial, or undefined when the journal does not reach
   * back that far (or `serial` is not one of its steps). Undefined also when `serial` is the
   * newest: there is nothing to send.
   */
  diffFrom(serial: number): ZoneDiff | undefined {
    const i = this.entries.findIndex((d) => d.fromSerial === serial >>> 0);
    if (i < 0) return undefined;
    const steps = this.entries.slice(i);
    if (steps.length === 1) return steps[0];
    return condense(steps);
  }
}

/**
 * Composes consecutive diffs into one. A record deleted after being added cancels out, and
 * so does one re-added after being deleted; identity includes the TTL, because a TTL change
 * travels as a delete plus an add.
 */
export function condense(steps: readonly ZoneDiff[]): ZoneDiff {
  const first = steps[0];
  const last = steps[steps.length - 1];
  if (!first || !last) throw new Error('condense: no diffs');
  const deleted = new Map<string, RR>();
  const added = new Map<string, RR>();
  const key = (rr: RR): string => `${recordKey(rr)}\u0000${rr.ttl >>> 0}`;
  for (const d of steps) {
    for (const rr of d.deleted) {
      const k = key(rr);
      if (added.has(k)) added.delete(k);
      else deleted.set(k, rr);
    }
    for (const rr of d.added) {
      const k = key(rr);
      if (deleted.has(k)) deleted.delete(k);
      else added.set(k, rr);
    }
  }
  return { origin: first.origin, fromSerial: first.fromSerial, toSerial: last.toSerial, soa: last.soa, deleted: [...deleted.values()], added: [...added.values()] };
}
