/**
 * Agent metrics. The query path only bumps plain numbers in a Float64Array (one per query
 * thread, in shared memory when there are several); /metrics reads and adds them up at scrape
 * time, so a query never pays for label hashing or a prom-client call. What is counted
 * follows CoreDNS's query metrics (README: the mapping table): requests by protocol, family
 * and type, responses by rcode, a request-duration histogram with CoreDNS's buckets, cache
 * hits and misses, and per upstream its answers, failures and round-trip times.
 */
import { counter, gauge, liveMetric, type LiveSample } from '../observability/metrics.js';
import { Rcode, rcodeName as headerRcodeName } from '../dns/header.js';

export const SOURCES = ['authoritative', 'cache', 'upstream', 'stale', 'local'] as const;
export type Source = (typeof SOURCES)[number];

const RCODE_SLOTS = 17; // 0..15 plus BADVERS (16)

/** The rcode label: named for what the agent answers (0-5, BADVERS), as CoreDNS names them. */
export function rcodeName(r: number): string {
  return r <= Rcode.REFUSED || r === Rcode.BADVERS ? headerRcodeName(r) : `RCODE${r}`;
}

/** CoreDNS's TimeBuckets (0.25 ms doubling to 8.192 s), so dashboards compare like with like. */
export const DURATION_BUCKETS: readonly number[] = Array.from({ length: 16 }, (_, i) => 0.00025 * 2 ** i);
const NB = DURATION_BUCKETS.length;
/** A histogram's slots: NB bucket counts, the +Inf bucket, then the sum. Not cumulative. */
const HIST_SLOTS = NB + 2;

/** The query types CoreDNS reports by name (vars/monitor.go); every other type is "other". */
export const QTYPES = ['A', 'AAAA', 'CNAME', 'DNSKEY', 'DS', 'MX', 'NSEC3', 'NSEC', 'NS', 'PTR', 'RRSIG', 'SOA', 'SRV', 'TXT', 'HTTPS', 'SVCB', 'IXFR', 'AXFR', 'ANY', 'other'] as const;
const QTYPE_CODES = [1, 28, 5, 48, 43, 15, 50, 47, 2, 12, 46, 6, 33, 16, 65, 64, 251, 252, 255];
const OTHER_TYPE = QTYPES.length - 1;
/** qtype → index into QTYPES: one array read per query instead of a map lookup. */
const TYPE_INDEX = new Uint8Array(65536).fill(OTHER_TYPE);
QTYPE_CODES.forEach((code, i) => (TYPE_INDEX[code] = i));
/** Request channels: proto × family, as CoreDNS labels them. */
const CHANNELS = [
  { proto: 'udp', family: '1' },
  { proto: 'udp', family: '2' },
  { proto: 'tcp', family: '1' },
  { proto: 'tcp', family: '2' },
] as const;

/** Why an upstream attempt gave no usable answer (UpstreamPool.resolve). */
export const UPSTREAM_FAILURES = ['timeout', 'error', 'rcode', 'busy'] as const;
export type UpstreamFailure = (typeof UPSTREAM_FAILURES)[number];
const TRANSPORTS = ['udp', 'tcp'] as const;

// Slots of a stats array. The fixed part first; then one block per upstream.
const DROPPED = SOURCES.length * RCODE_SLOTS;
const CACHE = DROPPED + 1;
const CACHE_HITS = CACHE + 2;
const CACHE_MISSES = CACHE + 3;
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
const REQUESTS = RATE_LIMITED_SLIPPED + 1;
const DURATION = REQUESTS + CHANNELS.length * QTYPES.length;
const UPSTREAMS = DURATION + HIST_SLOTS;
// Per upstream: its answers by rcode, its failures by reason, a latency histogram per transport.
const UP_RCODES = 0;
const UP_FAILURES = RCODE_SLOTS;
const UP_LATENCY = UP_FAILURES + UPSTREAM_FAILURES.length;
const UP_STRIDE = UP_LATENCY + TRANSPORTS.length * HIST_SLOTS;

/** Length of a stats array for an agent with `upstreams` upstreams. */
export function statsLength(upstreams: number): number {
  return UPSTREAMS + upstreams * UP_STRIDE;
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

export interface CacheView {
  readonly entries: number;
  readonly bytes: number;
  readonly hits: number;
  readonly misses: number;
}

/** Lines of a histogram kept at `base` of `c`: cumulative buckets, +Inf, sum, count. */
export function histogramSamples(c: Float64Array, base: number, labels: Readonly<Record<string, string>>): LiveSample[] {
  const out: LiveSample[] = [];
  let acc = 0;
  for (let b = 0; b <= NB; b++) {
    acc += c[base + b] as number;
    out.push({ suffix: '_bucket', labels: { ...labels, le: b < NB ? String(DURATION_BUCKETS[b]) : '+Inf' }, value: acc });
  }
  out.push({ suffix: '_sum', labels, value: c[base + NB + 1] as number }, { suffix: '_count', labels, value: acc });
  return out;
}

/** requests_total lines: one per (proto, family, type) seen. */
export function requestSamples(s: QueryStats): LiveSample[] {
  const out: LiveSample[] = [];
  for (let ch = 0; ch < CHANNELS.length; ch++) {
    for (let t = 0; t < QTYPES.length; t++) {
      const v = s.counts[REQUESTS + ch * QTYPES.length + t] as number;
      const c = CHANNELS[ch] as (typeof CHANNELS)[number];
      if (v > 0) out.push({ suffix: '', labels: { proto: c.proto, family: c.family, type: QTYPES[t] as string }, value: v });
    }
  }
  return out;
}

export function durationSamples(s: QueryStats): LiveSample[] {
  return histogramSamples(s.counts, DURATION, {});
}

/** Per-upstream lines, labelled by the upstream's HOST:PORT (`names`, in --upstream order). */
export function upstreamSamples(s: QueryStats, names: readonly string[], what: 'responses' | 'failures' | 'latency'): LiveSample[] {
  const out: LiveSample[] = [];
  for (let u = 0; u < Math.min(names.length, s.upstreams); u++) {
    const base = UPSTREAMS + u * UP_STRIDE;
    const upstream = names[u] as string;
    if (what === 'responses') {
      for (let r = 0; r < RCODE_SLOTS; r++) {
        const v = s.counts[base + UP_RCODES + r] as number;
        if (v > 0) out.push({ suffix: '', labels: { upstream, rcode: rcodeName(r) }, value: v });
      }
    } else if (what === 'failures') {
      UPSTREAM_FAILURES.forEach((reason, k) => {
        const v = s.counts[base + UP_FAILURES + k] as number;
        if (v > 0) out.push({ suffix: '', labels: { upstream, reason }, value: v });
      });
    } else {
      TRANSPORTS.forEach((transport, k) => {
        const h = base + UP_LATENCY + k * HIST_SLOTS;
        let n = 0;
        for (let b = 0; b <= NB; b++) n += s.counts[h + b] as number;
        if (n > 0) out.push(...histogramSamples(s.counts, h, { upstream, transport }));
      });
    }
  }
  return out;
}

/**
 * Turns readings of live numbers into counters that never go back: an agent's numbers start
 * at zero, and tests start several agents in one process one after another, so a new source
 * continues from where the last one left off instead of resetting the series.
 */
export class Monotonic {
  private source: unknown;
  private readonly last = new Map<string, number>();
  private readonly total = new Map<string, number>();

  apply(source: unknown, samples: readonly LiveSample[]): LiveSample[] {
    if (source !== this.source) {
      this.source = source;
      this.last.clear();
    }
    return samples.map((s) => {
      const key = s.suffix + JSON.stringify(s.labels);
      const d = s.value - (this.last.get(key) ?? 0);
      const t = (this.total.get(key) ?? 0) + (d > 0 ? d : 0);
      this.last.set(key, s.value);
      this.total.set(key, t);
      return { ...s, value: t };
    });
  }
}

/**
 * Registers the agent's metrics over live views; call once per process. Counters report the
 * delta since the last scrape, so they stay monotonic whatever the underlying number does.
 */
interface Views {
  readonly stats: () => QueryStats;
  readonly cache: () => { readonly entries: number; readonly bytes: number } | undefined;
  readonly serials: () => ReadonlyMap<string, number>;
  readonly upstreams: readonly string[];
}

let views: Views | undefined;
let registered = false;

/**
 * The metrics read from the most recently registered agent (one per process in production;
 * tests that start several in one process see the last one). `upstreams`: HOST:PORT of each
 * upstream, in the order the stats arrays hold them.
 */
export function registerAgentMetrics(
  stats: () => QueryStats,
  cache: () => { readonly entries: number; readonly bytes: number } | undefined,
  serials: () => ReadonlyMap<string, number>,
  upstreams: readonly string[] = [],
): void {
  views = { stats, cache, serials, upstreams };
  if (registered) return;
  registered = true;
  let reported = new Float64Array(statsLength(0));
  let reportedViews: Views | undefined;
  counter<'source' | 'rcode'>({
    name: 'dnssync_agent_queries_total',
    help: 'DNS responses sent, by where the answer came from and its rcode (CoreDNS: coredns_dns_responses_total).',
    labelNames: ['source', 'rcode'],
    collect() {
      if (views === undefined) return;
      const stats = views.stats();
      if (reportedViews !== views) {
        reported = new Float64Array(statsLength(0));
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
  gauge({
    name: 'dnssync_agent_tcp_connections',
    help: 'Open TCP connections on the DNS service port.',
    collect() {
      this.set(views?.stats().get(TCP_OPEN) ?? 0);
    },
  });
  gauge({
    name: 'dnssync_agent_forwards_inflight',
    help: 'Client queries waiting on an upstream answer.',
    collect() {
      this.set(views?.stats().get(FORWARDS_INFLIGHT) ?? 0);
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

  // Counters and histograms computed from the stats arrays at scrape time.
  const live = (name: string, help: string, type: 'counter' | 'histogram', read: (s: QueryStats, v: Views) => LiveSample[]): void => {
    const mono = new Monotonic();
    liveMetric(name, help, type, () => (views === undefined ? [] : mono.apply(views, read(views.stats(), views))));
  };
  const slot = (i: number, labels: Record<string, string> = {}) => (s: QueryStats): LiveSample[] => (s.get(i) > 0 ? [{ suffix: '', labels, value: s.get(i) }] : []);
  live('dnssync_agent_requests_total', 'DNS requests read, by transport (proto), address family of the listener (1 IPv4, 2 IPv6) and query type (CoreDNS: coredns_dns_requests_total).', 'counter', requestSamples);
  live('dnssync_agent_request_duration_seconds', 'Time from reading a query to its answer being ready to send, CoreDNS buckets (CoreDNS: coredns_dns_request_duration_seconds).', 'histogram', durationSamples);
  live('dnssync_agent_cache_hits_total', 'Forwarded queries answered from fresh cache (CoreDNS: coredns_cache_hits_total).', 'counter', slot(CACHE_HITS));
  live('dnssync_agent_cache_misses_total', 'Forwarded queries not answerable from fresh cache (CoreDNS: coredns_cache_misses_total).', 'counter', slot(CACHE_MISSES));
  live('dnssync_agent_forward_failures_total', 'Queries answered SERVFAIL because no upstream gave a usable answer and the cache held nothing stale.', 'counter', slot(FORWARD_FAILURES));
  live('dnssync_agent_forwards_refused_total', 'Queries answered SERVFAIL at once because --max-forwards were already in flight (CoreDNS: coredns_forward_max_concurrent_rejects_total).', 'counter', slot(FORWARDS_REFUSED));
  live('dnssync_agent_tcp_closed_total', 'TCP connections the agent closed, by reason: stuck (the client stopped reading its answers for the idle timeout).', 'counter', slot(TCP_CLOSED_STUCK, { reason: 'stuck' }));
  live('dnssync_agent_tcp_refused_total', 'TCP connections closed at accept, by reason: per_client (that address is at --tcp-max-connections-per-client) or total (--tcp-max-connections).', 'counter', (s) => [
    ...slot(TCP_REFUSED_PER_CLIENT, { reason: 'per_client' })(s),
    ...slot(TCP_REFUSED_TOTAL, { reason: 'total' })(s),
  ]);
  live('dnssync_agent_rate_limited_total', 'UDP queries over their client\'s --rate-limit, by action: dropped (no answer) or slipped (an empty answer with TC=1).', 'counter', (s) => [
    ...slot(RATE_LIMITED_DROPPED, { action: 'dropped' })(s),
    ...slot(RATE_LIMITED_SLIPPED, { action: 'slipped' })(s),
  ]);
  live('dnssync_agent_upstream_responses_total', 'Answers from each upstream, by rcode (CoreDNS: the rcode label of coredns_proxy_request_duration_seconds).', 'counter', (s, v) => upstreamSamples(s, v.upstreams, 'responses'));
  live('dnssync_agent_upstream_failures_total', 'Upstream attempts that gave no usable answer, by reason (timeout, error, rcode: SERVFAIL/REFUSED/FORMERR/NOTIMP, busy: every query ID of the upstream socket pending).', 'counter', (s, v) => upstreamSamples(s, v.upstreams, 'failures'));
  live('dnssync_agent_upstream_duration_seconds', 'Time from sending a query to an upstream to its answer, by transport, CoreDNS buckets (CoreDNS: coredns_proxy_request_duration_seconds).', 'histogram', (s, v) => upstreamSamples(s, v.upstreams, 'latency'));
}
