/**
 * The bounded history of one zone's diffs, enough to bring a replica from any recent serial
 * to the current one with a single condensed diff (RFC 1995 §5 permits condensing). Bounded
 * by entry count and by the number of records it holds, so a burst of large changes cannot
 * grow it without limit; a replica older than the oldest entry falls back to AXFR.
 *
 * Condensing is the hot path of a push under load: every lagging agent asks for "everything
 * since my serial" on each ACK, and a hundred agents mostly lag from the same few serials.
 * So each entry's record keys are computed once, and a condensed diff is kept per base
 * serial as a running accumulator that later asks extend by only the newer steps, instead of
 * re-condensing the whole tail for every agent on every ACK.
 */
import type { RR } from '../dns/rr.js';
import { recordKey } from '../dns/rdata.js';
import type { ZoneDiff } from '../zone/types.js';

export interface JournalLimits {
  /**
   * Most diffs kept (default 10 000: ten seconds of a 1,000 changes/s burst, so an agent that
   * falls that far behind still catches up by IXFR rather than by a full AXFR; finding and
   * condensing from an old serial no longer costs more the longer the journal is).
   */
  readonly maxEntries?: number;
  /** Most records (deleted + added) kept across all entries (default 100 000). */
  readonly maxRecords?: number;
  /** Most condensed diffs cached, one per base serial (default 128). */
  readonly maxCondensed?: number;
}

interface Entry {
  readonly diff: ZoneDiff;
  /** Identity keys of diff.deleted / diff.added, computed on first condense. */
  keys: { readonly deleted: readonly string[]; readonly added: readonly string[] } | undefined;
}

/** A condensed diff from `fromSerial`, extended in place as the journal grows. */
interface Condensed {
  readonly fromSerial: number;
  toSerial: number;
  soa: RR;
  readonly deleted: Map<string, RR>;
  readonly added: Map<string, RR>;
  /** The materialised diff at `toSerial`, shared by every asker until the next step. */
  view: ZoneDiff | undefined;
}

/** A condensed diff with more records than the asker can use (see `diffWithin`). */
export const TOO_LARGE = Symbol('too-large');

export class Journal {
  private entries: Entry[] = [];
  /** Sequence number of entries[0]; with `bySerial`, finds an entry without a scan. */
  private head = 0;
  private readonly bySerial = new Map<number, number>();
  private records = 0;
  private readonly maxEntries: number;
  private readonly maxRecords: number;
  private readonly maxCondensed: number;
  /** By base serial, least recently used first. */
  private readonly condensed = new Map<number, Condensed>();
  private condensedRecords = 0;

  constructor(limits: JournalLimits = {}) {
    this.maxEntries = limits.maxEntries ?? 10_000;
    this.maxRecords = limits.maxRecords ?? 100_000;
    this.maxCondensed = limits.maxCondensed ?? 128;
  }

  get length(): number {
    return this.entries.length;
  }

  /** Condensed diffs currently cached (for tests and debugging). */
  get cachedCondensed(): number {
    return this.condensed.size;
  }

  /** The oldest serial a diff can start from, if any. */
  get oldestSerial(): number | undefined {
    return this.entries[0]?.diff.fromSerial;
  }

  /** Appends a diff; it must start where the previous one ended, else the history restarts. */
  append(diff: ZoneDiff): void {
    const last = this.entries[this.entries.length - 1];
    if (last && last.diff.toSerial !== diff.fromSerial) this.clear();
    this.bySerial.set(diff.fromSerial >>> 0, this.head + this.entries.length);
    this.entries.push({ diff, keys: undefined });
    this.records += diff.deleted.length + diff.added.length;
    while (this.entries.length > this.maxEntries || (this.records > this.maxRecords && this.entries.length > 1)) {
      const old = (this.entries.shift() as Entry).diff;
      this.head++;
      this.records -= old.deleted.length + old.added.length;
      this.bySerial.delete(old.fromSerial >>> 0);
      this.dropCondensed(old.fromSerial >>> 0);
    }
  }

  clear(): void {
    this.entries = [];
    this.head = 0;
    this.bySerial.clear();
    this.records = 0;
    this.condensed.clear();
    this.condensedRecords = 0;
  }

  /**
   * One diff from `serial` to the newest serial, or undefined when the journal does not reach
   * back that far (or `serial` is not one of its steps). Undefined also when `serial` is the
   * newest: there is nothing to send.
   */
  diffFrom(serial: number): ZoneDiff | undefined {
    const d = this.diffWithin(serial, Infinity);
    return d === TOO_LARGE ? undefined : d;
  }

  /**
   * As diffFrom, but TOO_LARGE when the condensed diff holds more than `maxRecords` records:
   * a caller with a size budget (a NOTIFY datagram) then skips materialising and encoding it.
   */
  diffWithin(serial: number, maxRecords: number): ZoneDiff | typeof TOO_LARGE | undefined {
    const s = serial >>> 0;
    const seq = this.bySerial.get(s);
    if (seq === undefined) return undefined;
    const i = seq - this.head;
    const newest = this.entries[this.entries.length - 1] as Entry;
    if (i === this.entries.length - 1) return newest.diff.deleted.length + newest.diff.added.length > maxRecords ? TOO_LARGE : newest.diff;
    let c = this.condensed.get(s);
    if (c) this.condensed.delete(s); // re-inserted below: most recently used
    else c = { fromSerial: s, toSerial: s, soa: newest.diff.soa, deleted: new Map(), added: new Map(), view: undefined };
    this.condensedRecords -= c.deleted.size + c.added.size;
    if (c.toSerial !== newest.diff.toSerial) {
      const from = c.toSerial === s ? i : (this.bySerial.get(c.toSerial) as number) - this.head;
      for (let k = from; k < this.entries.length; k++) this.extend(c, this.entries[k] as Entry);
      c.view = undefined;
    }
    const size = c.deleted.size + c.added.size;
    this.condensedRecords += size;
    this.condensed.set(s, c);
    this.evict();
    if (size > maxRecords) return TOO_LARGE;
    c.view ??= { origin: newest.diff.origin, fromSerial: c.fromSerial, toSerial: c.toSerial, soa: c.soa, deleted: [...c.deleted.values()], added: [...c.added.values()] };
    return c.view;
  }

  /**
   * The longest run of steps from `serial` whose condensed diff stays within `budget`, sizing
   * each record with `size`: for a replica so far behind that the whole way does not fit one
   * datagram, a first leg that does (it then asks again from where the leg ends). Undefined
   * when `serial` is not a step here or even its first step alone is over budget.
   */
  diffPrefix(serial: number, budget: number, size: (rr: RR) => number): ZoneDiff | undefined {
    const seq = this.bySerial.get(serial >>> 0);
    if (seq === undefined) return undefined;
    const deleted = new Map<string, RR>();
    const added = new Map<string, RR>();
    let used = 0;
    let end: Entry | undefined;
    for (let k = seq - this.head; k < this.entries.length; k++) {
      const e = this.entries[k] as Entry;
      const keys = (e.keys ??= { deleted: e.diff.deleted.map(identity), added: e.diff.added.map(identity) });
      // Try the step on copies' worth of bookkeeping: note what it changes, undo if over.
      const undo: [Map<string, RR>, string, RR | undefined][] = [];
      // Sets (or with undefined, removes) one entry and keeps `used` in step.
      const set = (m: Map<string, RR>, k2: string, rr: RR | undefined): void => {
        const before = m.get(k2);
        if (before) used -= size(before);
        if (rr) {
          m.set(k2, rr);
          used += size(rr);
        } else m.delete(k2);
      };
      const put = (m: Map<string, RR>, k2: string, rr: RR | undefined): void => {
        undo.push([m, k2, m.get(k2)]);
        set(m, k2, rr);
      };
      e.diff.deleted.forEach((rr, n) => {
        const key = keys.deleted[n] as string;
        if (added.has(key)) put(added, key, undefined);
        else put(deleted, key, rr);
      });
      e.diff.added.forEach((rr, n) => {
        const key = keys.added[n] as string;
        if (deleted.has(key)) put(deleted, key, undefined);
        else put(added, key, rr);
      });
      if (used > budget) {
        for (let u = undo.length - 1; u >= 0; u--) {
          const [m, key, rr] = undo[u] as [Map<string, RR>, string, RR | undefined];
          set(m, key, rr);
        }
        break;
      }
      end = e;
    }
    if (!end) return undefined;
    return { origin: end.diff.origin, fromSerial: serial >>> 0, toSerial: end.diff.toSerial, soa: end.diff.soa, deleted: [...deleted.values()], added: [...added.values()] };
  }

  private extend(c: Condensed, e: Entry): void {
    const keys = (e.keys ??= { deleted: e.diff.deleted.map(identity), added: e.diff.added.map(identity) });
    step(c.deleted, c.added, e.diff, keys.deleted, keys.added);
    c.toSerial = e.diff.toSerial;
    c.soa = e.diff.soa;
  }

  private dropCondensed(serial: number): void {
    const c = this.condensed.get(serial);
    if (!c) return;
    this.condensed.delete(serial);
    this.condensedRecords -= c.deleted.size + c.added.size;
  }

  /** Least recently used first, until within the count and record budgets (keeps the newest). */
  private evict(): void {
    while (this.condensed.size > this.maxCondensed || (this.condensedRecords > this.maxRecords && this.condensed.size > 1)) {
      const oldest = this.condensed.keys().next().value as number;
      this.dropCondensed(oldest);
    }
  }
}

/** Identity includes the TTL, because a TTL change travels as a delete plus an add. */
function identity(rr: RR): string {
  return `${recordKey(rr)}\u0000${rr.ttl >>> 0}`;
}

/**
 * Folds one diff into a condensed pair of maps. A record deleted after being added cancels
 * out, and so does one re-added after being deleted.
 */
function step(deleted: Map<string, RR>, added: Map<string, RR>, d: ZoneDiff, delKeys: readonly string[], addKeys: readonly string[]): void {
  d.deleted.forEach((rr, n) => {
    const k = delKeys[n] as string;
    if (added.has(k)) added.delete(k);
    else deleted.set(k, rr);
  });
  d.added.forEach((rr, n) => {
    const k = addKeys[n] as string;
    if (deleted.has(k)) deleted.delete(k);
    else added.set(k, rr);
  });
}

/** Composes consecutive diffs into one (uncached; the journal keeps its own running form). */
export function condense(steps: readonly ZoneDiff[]): ZoneDiff {
  const first = steps[0];
  const last = steps[steps.length - 1];
  if (!first || !last) throw new Error('condense: no diffs');
  const deleted = new Map<string, RR>();
  const added = new Map<string, RR>();
  for (const d of steps) step(deleted, added, d, d.deleted.map(identity), d.added.map(identity));
  return { origin: first.origin, fromSerial: first.fromSerial, toSerial: last.toSerial, soa: last.soa, deleted: [...deleted.values()], added: [...added.values()] };
}
