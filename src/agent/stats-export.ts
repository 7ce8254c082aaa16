/**
 * The agent's metrics at scrape time: the stats arrays (stats.ts) of every query thread read,
 * added up and turned into Prometheus samples named and labelled as CoreDNS's (README: the
 * mapping table), counters kept monotonic across restarts of a worker.
 */
import { counter, gauge, liveMetric, type LiveSample } from '../observability/metrics.js';
import { CACHE_HITS, CACHE_MISSES, CHANNELS, DURATION, DURATION_BUCKETS, FORWARD_FAILURES, FORWARDS_INFLIGHT, FORWARDS_REFUSED, HIST_SLOTS, NB, QTYPES, QueryStats, RATE_LIMITED_DROPPED, RATE_LIMITED_SLIPPED, RCODE_SLOTS, rcodeName, REQUESTS, SOURCES, statsLength, TCP_CLOSED_STUCK, TCP_OPEN, TCP_REFUSED_PER_CLIENT, TCP_REFUSED_TOTAL, TRANSPORTS, UP_FAILURES, UP_LATENCY, UP_RCODES, UP_STRIDE, UPSTREAM_FAILURES, UPSTREAMS } from './stats.js';

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
