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

/**
 * Slots of a stats array: one per (source, rcode), then dropped, then the cache view, then
 * the abuse bounds (TCP connections, forwards in flight).
 */
const DROPPED = SOURCES.length * RCODE_SLOTS;
const CACHE = DROPPED + 1;
/** Open TCP connections on the service port (a gauge: +1 at accept, -1 at close). */
export const TCP_OPEN = CACHE + 4;
/** TCP connections closed because the client stopped reading its answers. */
export const TCP_CLOSED_STUCK = TCP_OPEN + 1;
/** TCP connections refused at accept: the client address is at its cap. */
export const TCP_REFUSED_PER_CLIENT = TCP_OPEN + 2;
/** TCP connections refused at accept: the listener is at its total cap. */
export const TCP_REFUSED_TOTAL = TCP_OPEN + 3;
/** Client queries waiting on an upstream (a gauge). */
export const FORWARDS_INFLIGHT = TCP_OPEN + 4;
/** Queries answered SERVFAIL at once because forwards in flight were at their cap. */
export const FORWARDS_REFUSED = TCP_OPEN + 5;
export const STATS_SLOTS = FORWARDS_REFUSED + 1;

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

  /** Adds `d` to one of the slots above (TCP_OPEN, FORWARDS_REFUSED, ...). */
  add(slot: number, d: number): void {
    this.counts[slot] = (this.counts[slot] as number) + d;
  }

  get(slot: number): number {
    return this.counts[slot] as number;
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
  gauge({
    name: 'dnssync_agent_tcp_connections',
    help: 'Open TCP connections on the DNS service port.',
    collect() {
      this.set(views?.stats().get(TCP_OPEN) ?? 0);
    },
  });
  const slotCounter = <L extends string>(name: string, help: string, labelName: L | undefined, slots: readonly (readonly [string, number])[]): void => {
    const reported = new Map<number, number>();
    counter<L>({
      name,
      help,
      labelNames: labelName === undefined ? [] : [labelName],
      collect() {
        const stats = views?.stats();
        if (stats === undefined) return;
        for (const [label, slot] of slots) {
          const now = stats.get(slot);
          const d = now - (reported.get(slot) ?? 0);
          if (d <= 0) continue;
          if (labelName === undefined) this.inc(d);
          else this.inc({ [labelName]: label } as Partial<Record<L, string>>, d);
          reported.set(slot, now);
        }
      },
    });
  };
  slotCounter('dnssync_agent_tcp_closed_total', 'TCP connections the agent closed, by reason: stuck (the client stopped reading its answers for the idle timeout).', 'reason', [['stuck', TCP_CLOSED_STUCK]]);
  slotCounter('dnssync_agent_tcp_refused_total', 'TCP connections closed at accept, by reason: per_client (that address is at --tcp-max-connections-per-client) or total (--tcp-max-connections).', 'reason', [
    ['per_client', TCP_REFUSED_PER_CLIENT],
    ['total', TCP_REFUSED_TOTAL],
  ]);
  gauge({
    name: 'dnssync_agent_forwards_inflight',
    help: 'Client queries waiting on an upstream answer.',
    collect() {
      this.set(views?.stats().get(FORWARDS_INFLIGHT) ?? 0);
    },
  });
  slotCounter('dnssync_agent_forwards_refused_total', 'Queries answered SERVFAIL at once because --max-forwards were already in flight.', undefined, [['', FORWARDS_REFUSED]]);
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
