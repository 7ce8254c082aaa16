/**
 * Agent metrics, counted (their exposition at scrape time is stats-export.ts). The query path only bumps plain numbers in a Float64Array (one per query
 * thread, in shared memory when there are several); /metrics reads and adds them up at scrape
 * time, so a query never pays for label hashing or a prom-client call. What is counted
 * follows CoreDNS's query metrics (README: the mapping table): requests by protocol, family
 * and type, responses by rcode, a request-duration histogram with CoreDNS's buckets, cache
 * hits and misses, and per upstream its answers, failures and round-trip times.
 */
import { Rcode, rcodeName as headerRcodeName } from '../dns/header.js';

export const SOURCES = ['authoritative', 'cache', 'upstream', 'stale', 'local'] as const;
export type Source = (typeof SOURCES)[number];

export const RCODE_SLOTS = 17; // 0..15 plus BADVERS (16)

/** The rcode label: named for what the agent answers (0-5, BADVERS), as CoreDNS names them. */
export function rcodeName(r: number): string {
  return r <= Rcode.REFUSED || r === Rcode.BADVERS ? headerRcodeName(r) : `RCODE${r}`;
}

/** CoreDNS's TimeBuckets (0.25 ms doubling to 8.192 s), so dashboards compare like with like. */
export const DURATION_BUCKETS: readonly number[] = Array.from({ length: 16 }, (_, i) => 0.00025 * 2 ** i);
export const NB = DURATION_BUCKETS.length;
/** A histogram's slots: NB bucket counts, the +Inf bucket, then the sum. Not cumulative. */
export const HIST_SLOTS = NB + 2;

/** The query types CoreDNS reports by name (vars/monitor.go); every other type is "other". */
export const QTYPES = ['A', 'AAAA', 'CNAME', 'DNSKEY', 'DS', 'MX', 'NSEC3', 'NSEC', 'NS', 'PTR', 'RRSIG', 'SOA', 'SRV', 'TXT', 'HTTPS', 'SVCB', 'IXFR', 'AXFR', 'ANY', 'other'] as const;
const QTYPE_CODES = [1, 28, 5, 48, 43, 15, 50, 47, 2, 12, 46, 6, 33, 16, 65, 64, 251, 252, 255];
const OTHER_TYPE = QTYPES.length - 1;
/** qtype → index into QTYPES: one array read per query instead of a map lookup. */
const TYPE_INDEX = new Uint8Array(65536).fill(OTHER_TYPE);
QTYPE_CODES.forEach((code, i) => (TYPE_INDEX[code] = i));
/** Request channels: proto × family, as CoreDNS labels them. */
export const CHANNELS = [
  { proto: 'udp', family: '1' },
  { proto: 'udp', family: '2' },
  { proto: 'tcp', family: '1' },
  { proto: 'tcp', family: '2' },
] as const;

/** Why an upstream attempt gave no usable answer (UpstreamPool.resolve). */
export const UPSTREAM_FAILURES = ['timeout', 'error', 'rcode', 'busy'] as const;
export type UpstreamFailure = (typeof UPSTREAM_FAILURES)[number];
export const TRANSPORTS = ['udp', 'tcp'] as const;

// Slots of a stats array. The fixed part first; then one block per upstream.
const DROPPED = SOURCES.length * RCODE_SLOTS;
const CACHE = DROPPED + 1;
export const CACHE_HITS = CACHE + 2;
export const CACHE_MISSES = CACHE + 3;
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
/** Queries answered SERVFAIL because no upstream gave a usable answer and nothing stale was held. */
export const FORWARD_FAILURES = TCP_OPEN + 6;
/** UDP queries over the --rate-limit of their client: sent nothing. */
export const RATE_LIMITED_DROPPED = TCP_OPEN + 7;
/** UDP queries over the --rate-limit of their client: answered empty with TC=1 (the slip). */
export const RATE_LIMITED_SLIPPED = TCP_OPEN + 8;
export const REQUESTS = RATE_LIMITED_SLIPPED + 1;
export const DURATION = REQUESTS + CHANNELS.length * QTYPES.length;
export const UPSTREAMS = DURATION + HIST_SLOTS;
// Per upstream: its answers by rcode, its failures by reason, a latency histogram per transport.
export const UP_RCODES = 0;
export const UP_FAILURES = RCODE_SLOTS;
export const UP_LATENCY = UP_FAILURES + UPSTREAM_FAILURES.length;
export const UP_STRIDE = UP_LATENCY + TRANSPORTS.length * HIST_SLOTS;

/** Length of a stats array for an agent with `upstreams` upstreams. */
export function statsLength(upstreams: number): number {
  return UPSTREAMS + upstreams * UP_STRIDE;
}

export interface CacheView {
  readonly entries: number;
  readonly bytes: number;
  readonly hits: number;
  readonly misses: number;
}

export class QueryStats {
  /** See the slot constants above. May be a worker's slice of a SharedArrayBuffer. */
  readonly counts: Float64Array;

  constructor(counts?: Float64Array) {
    this.counts = counts ?? new Float64Array(statsLength(0));
  }

  /** How many upstream blocks the array holds. */
  get upstreams(): number {
    return (this.counts.length - UPSTREAMS) / UP_STRIDE;
  }

  /** A response, by where it came from and its rcode. */
  count(source: number, rcode: number): void {
    const i = source * RCODE_SLOTS + (rcode < RCODE_SLOTS ? rcode : 2);
    this.counts[i] = (this.counts[i] as number) + 1;
  }

  /** A request, by transport, address family of the listener and query type. */
  request(tcp: boolean, ipv6: boolean, qtype: number): void {
    const i = REQUESTS + ((tcp ? 2 : 0) + (ipv6 ? 1 : 0)) * QTYPES.length + (TYPE_INDEX[qtype] as number);
    this.counts[i] = (this.counts[i] as number) + 1;
  }

  /** How long one query took, from reading it to its answer being ready. */
  duration(seconds: number): void {
    observe(this.counts, DURATION, seconds);
  }

  /** Adds `d` to one of the slots above (TCP_OPEN, FORWARDS_REFUSED, ...). */
  add(slot: number, d: number): void {
    this.counts[slot] = (this.counts[slot] as number) + d;
  }

  get(slot: number): number {
    return this.counts[slot] as number;
  }

  cacheHit(): void {
    this.counts[CACHE_HITS] = (this.counts[CACHE_HITS] as number) + 1;
  }

  cacheMiss(): void {
    this.counts[CACHE_MISSES] = (this.counts[CACHE_MISSES] as number) + 1;
  }

  /** Upstream `u` (its index in --upstream order) answered with `rcode` after `seconds`. */
  upstreamAnswer(u: number, tcp: boolean, rcode: number, seconds: number): void {
    const base = UPSTREAMS + u * UP_STRIDE;
    const r = base + UP_RCODES + (rcode < RCODE_SLOTS ? rcode : 2);
    this.counts[r] = (this.counts[r] as number) + 1;
    observe(this.counts, base + UP_LATENCY + (tcp ? HIST_SLOTS : 0), seconds);
  }

  upstreamFailure(u: number, reason: UpstreamFailure): void {
    const i = UPSTREAMS + u * UP_STRIDE + UP_FAILURES + UPSTREAM_FAILURES.indexOf(reason);
    this.counts[i] = (this.counts[i] as number) + 1;
  }

  get dropped(): number {
    return this.counts[DROPPED] as number;
  }

  set dropped(n: number) {
    this.counts[DROPPED] = n;
  }

  /** Copies the shared cache's size in, for whoever reads this array from another thread. */
  publishCache(c: { readonly entries: number; readonly bytes: number }): void {
    this.counts[CACHE] = c.entries;
    this.counts[CACHE + 1] = c.bytes;
  }

  cacheView(): CacheView {
    return {
      entries: this.counts[CACHE] as number,
      bytes: this.counts[CACHE + 1] as number,
      hits: this.counts[CACHE_HITS] as number,
      misses: this.counts[CACHE_MISSES] as number,
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

/** Bucket `le` semantics: a value lands in the first bucket whose bound it does not exceed. */
function observe(c: Float64Array, base: number, seconds: number): void {
  let b = 0;
  while (b < NB && seconds > (DURATION_BUCKETS[b] as number)) b++;
  c[base + b] = (c[base + b] as number) + 1;
  c[base + NB + 1] = (c[base + NB + 1] as number) + seconds;
}

/**
 * Element-wise sum of several stats arrays (one per worker). Gauges add up too (each worker
 * counts its own connections and forwards); the cache size is the one shared cache's, which
 * every worker publishes, so it takes the largest.
 */
export function sumStats(parts: readonly QueryStats[]): QueryStats {
  const out = new QueryStats(new Float64Array(parts[0]?.counts.length ?? statsLength(0)));
  for (const p of parts) for (let i = 0; i < out.counts.length; i++) out.counts[i] = (out.counts[i] as number) + (p.counts[i] as number);
  out.counts[CACHE] = Math.max(0, ...parts.map((p) => p.counts[CACHE] as number));
  out.counts[CACHE + 1] = Math.max(0, ...parts.map((p) => p.counts[CACHE + 1] as number));
  return out;
}

export const SOURCE_AUTHORITATIVE = 0;
export const SOURCE_CACHE = 1;
export const SOURCE_UPSTREAM = 2;
export const SOURCE_STALE = 3;
export const SOURCE_LOCAL = 4;
