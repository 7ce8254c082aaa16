/**
 * Agent metrics. The query path only bumps plain numbers in an array; prom-client reads them
 * at scrape time (its collect hook), so a query never pays for label hashing.
 */
import { counter, gauge } from '../observability/metrics.js';

export const SOURCES = ['authoritative', 'cache', 'upstream', 'stale', 'local'] as const;
export type Source = (typeof SOURCES)[number];

const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];
const RCODE_SLOTS = 17; // 0..15 plus BADVERS (16)

function rcodeName(r: number): string {
  if (r === 16) return 'BADVERS';
  return RCODES[r] ?? `RCODE${r}`;
}

/** Slots of a stats array: one per (source, rcode), then dropped, then the cache view. */
export const STATS_SLOTS = SOURCES.length * RCODE_SLOTS + 5;
const DROPPED = SOURCES.length * RCODE_SLOTS;
const CACHE = DROPPED + 1;

export class QueryStats {
  /**
   * counts[source * RCODE_SLOTS + rcode], then dropped and the cache view. May live in a
   * SharedArrayBuffer so a main thread can add up its workers' numbers without messages.
   */
  readonly counts: Float64Array;

  constructor(counts?: Float64Array) {
    this.counts = counts ?? new Float64Array(STATS_SLOTS);
  }

  count(source: number, rcode: number): void {
    const i = source * RCODE_SLOTS + (rcode < RCODE_SLOTS ? rcode : 2);
    this.counts[i] = (this.counts[i] as number) + 1;
  }

  get dropped(): number {
    return this.counts[DROPPED] as number;
  }

  set dropped(n: number) {
    this.counts[DROPPED] = n;
  }

  /** Copies the cache's numbers in, for whoever reads this array from another thread. */
  publishCache(c: CacheView): void {
    this.counts[CACHE] = c.entries;
    this.counts[CACHE + 1] = c.bytes;
    this.counts[CACHE + 2] = c.hits;
    this.counts[CACHE + 3] = c.misses;
  }

  cacheView(): CacheView {
    return {
      entries: this.counts[CACHE] as number,
      bytes: this.counts[CACHE + 1] as number,
      hits: this.counts[CACHE + 2] as number,
      misses: this.counts[CACHE + 3] as number,
    };
  }

  total(source?: Source): number {
    let n = 0;
    for (let s = 0; s < SOURCES.length; s++) {
      if (source !== undefined && SOURCES[s] !== source) continue;
      for (let r = 0; r < RCODE_SLOTS; r++) n += this.counts[s * RCODE_SLOTS + r] as number;
    }
    return n;
  }
}

/** Element-wise sum of several stats arrays (one per worker). */
export function sumStats(parts: readonly QueryStats[]): QueryStats {
  const out = new QueryStats();
  for (const p of parts) for (let i = 0; i < STATS_SLOTS; i++) out.counts[i] = (out.counts[i] as number) + (p.counts[i] as number);
  return out;
}

export const SOURCE_AUTHORITATIVE = 0;
export const SOURCE_CACHE = 1;
export const SOURCE_UPSTREAM = 2;
export const SOURCE_STALE = 3;
export const SOURCE_LOCAL = 4;

export interface CacheView {
  readonly entries: number;
  readonly bytes: number;
  readonly hits: number;
  readonly misses: number;
}

/**
 * Registers the agent's metrics over live views; call once per process. Counters report the
 * delta since the last scrape, so they stay monotonic whatever the underlying number does.
 */
interface Views {
  readonly stats: () => QueryStats;
  readonly cache: () => CacheView | undefined;
  readonly serials: () => ReadonlyMap<string, number>;
}

let views: Views | undefined;
let registered = false;

/**
 * The metrics read from the most recently registered agent (one per process in production;
 * tests that start several in one process see the last one).
 */
export function registerAgentMetrics(stats: () => QueryStats, cache: () => CacheView | undefined, serials: () => ReadonlyMap<string, number>): void {
  views = { stats, cache, serials };
  if (registered) return;
  registered = true;
  let reported = new Float64Array(STATS_SLOTS);
  let reportedViews: Views | undefined;
  counter<'source' | 'rcode'>({
    name: 'dnssync_agent_queries_total',
    help: 'DNS queries answered, by where the answer came from and its rcode.',
    labelNames: ['source', 'rcode'],
    collect() {
      if (views === undefined) return;
      const stats = views.stats();
      if (reportedViews !== views) {
        reported = new Float64Array(STATS_SLOTS);
        reportedViews = views;
      }
      for (let s = 0; s < SOURCES.length; s++) {
        for (let r = 0; r < RCODE_SLOTS; r++) {
          const i = s * RCODE_SLOTS + r;
          const d = (stats.counts[i] as number) - (reported[i] as number);
          if (d > 0) {
            this.inc({ source: SOURCES[s] as string, rcode: rcodeName(r) }, d);
            reported[i] = stats.counts[i] as number;
          }
        }
      }
    },
  });
  let droppedReported = 0;
  counter({
    name: 'dnssync_agent_queries_dropped_total',
    help: 'Datagrams and frames dropped unanswered (unreadable header, or a response).',
    collect() {
      const dropped = views?.stats().dropped ?? 0;
      if (dropped > droppedReported) this.inc(dropped - droppedReported);
      droppedReported = dropped;
    },
  });
  gauge({
    name: 'dnssync_agent_cache_entries',
    help: 'Entries in the forwarding cache.',
    collect() {
      this.set(views?.cache()?.entries ?? 0);
    },
  });
  gauge({
    name: 'dnssync_agent_cache_bytes',
    help: 'Bytes held by the forwarding cache (answers plus bookkeeping).',
    collect() {
      this.set(views?.cache()?.bytes ?? 0);
    },
  });
  let hitsReported = 0;
  let missesReported = 0;
  counter({
    name: 'dnssync_agent_cache_hits_total',
    help: 'Forwarded queries answered from fresh cache.',
    collect() {
      const h = views?.cache()?.hits ?? 0;
      if (h > hitsReported) this.inc(h - hitsReported);
      hitsReported = h;
    },
  });
  counter({
    name: 'dnssync_agent_cache_misses_total',
    help: 'Forwarded queries not answerable from fresh cache.',
    collect() {
      const m = views?.cache()?.misses ?? 0;
      if (m > missesReported) this.inc(m - missesReported);
      missesReported = m;
    },
  });
  gauge<'zone'>({
    name: 'dnssync_agent_zone_serial',
    help: 'SOA serial of each zone this agent serves.',
    labelNames: ['zone'],
    collect() {
      this.reset();
      for (const [zone, serial] of views?.serials() ?? []) this.set({ zone }, serial);
    },
  });
}
