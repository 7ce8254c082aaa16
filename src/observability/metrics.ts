/**
 * The process's one Prometheus registry. Every metric is named dnssync_*; modules create
 * theirs through these helpers so that a second import returns the same metric.
 *
 * prom-client is loaded file by file rather than through its index: the index also loads
 * the Pushgateway client (http, https, zlib), the cluster aggregator (cluster,
 * child_process) and, through the CPU metric, @opentelemetry/api — none of which a
 * process here uses, and together ~14 MB of RSS in every agent (measured: the index with
 * its default metrics 63 MB, these files 48 MB, bare Node 41 MB). The CPU counters are
 * ours instead (same names, same meaning); the other default metrics are prom-client's.
 * metrics.test.ts (beside this file) checks the exposition, so a prom-client upgrade that
 * moves these files fails there, not in production.
 */
import { createRequire } from 'node:module';
import type { Counter as CounterT, CounterConfiguration, Gauge as GaugeT, GaugeConfiguration, Histogram as HistogramT, HistogramConfiguration, Registry as RegistryT } from 'prom-client';

const load = createRequire(import.meta.url);
const Registry = load('prom-client/lib/registry.js') as typeof RegistryT;
const Counter = load('prom-client/lib/counter.js') as typeof CounterT;
const Gauge = load('prom-client/lib/gauge.js') as typeof GaugeT;
const Histogram = load('prom-client/lib/histogram.js') as typeof HistogramT;

export type Counter<L extends string = string> = CounterT<L>;
export type Gauge<L extends string = string> = GaugeT<L>;
export type Histogram<L extends string = string> = HistogramT<L>;

const PROCESS_PREFIX = 'dnssync_process_';

/**
 * prom-client's default metrics but two, by file (see above): the CPU one (ours, below) and
 * the GC one, `nodejs_gc_duration_seconds`, which is opt-in through registerGcMetric(). It
 * subscribes a PerformanceObserver to every collection, and the agent runs a young-generation
 * collection every ~50 ms at 20,000 QPS: measured on a Node UDP server doing no DNS work,
 * that observer alone took the p99 at 20k QPS from ~0.1 ms to 0.17-0.29 ms. The controller,
 * which has no such budget, registers it.
 */
const DEFAULT_METRICS = [
  'processStartTime',
  'osMemoryHeap',
  'processOpenFileDescriptors',
  'processMaxFileDescriptors',
  'eventLoopLag',
  'processResources',
  'processHandles',
  'processRequests',
  'heapSizeAndUsed',
  'heapSpacesSizeAndUsed',
  'version',
] as const;

type DefaultMetric = (registry: RegistryT, config: { prefix: string; eventLoopMonitoringPrecision: number }) => void;

export const registry = new Registry();
for (const name of DEFAULT_METRICS) {
  (load(`prom-client/lib/metrics/${name}.js`) as DefaultMetric)(registry, { prefix: PROCESS_PREFIX, eventLoopMonitoringPrecision: 10 });
}
registerCpuCounters(registry);

let gcMetric = false;
/** nodejs_gc_duration_seconds (prom-client's), for processes that can afford it; once. */
export function registerGcMetric(): void {
  if (gcMetric) return;
  gcMetric = true;
  (load('prom-client/lib/metrics/gc.js') as DefaultMetric)(registry, { prefix: PROCESS_PREFIX, eventLoopMonitoringPrecision: 10 });
}

/** process_cpu_{user,system,}_seconds_total, advanced by the CPU time used since the last scrape. */
function registerCpuCounters(reg: RegistryT): void {
  let last = process.cpuUsage();
  // The first of the three collects for all of them, once per scrape, from one reading:
  // the registry collects in registration order, so the others are current when exposed.
  const user: CounterT = new Counter({
    name: `${PROCESS_PREFIX}process_cpu_user_seconds_total`,
    help: 'Total user CPU time spent in seconds.',
    registers: [reg],
    collect() {
      const now = process.cpuUsage();
      const u = (now.user - last.user) / 1e6;
      const s = (now.system - last.system) / 1e6;
      last = now;
      user.inc(u);
      system.inc(s);
      total.inc(u + s);
    },
  });
  const system = new Counter({ name: `${PROCESS_PREFIX}process_cpu_system_seconds_total`, help: 'Total system CPU time spent in seconds.', registers: [reg] });
  const total = new Counter({ name: `${PROCESS_PREFIX}process_cpu_seconds_total`, help: 'Total user and system CPU time spent in seconds.', registers: [reg] });
}

function existing<T>(name: string): T | undefined {
  return registry.getSingleMetric(name) as T | undefined;
}

function checkName(name: string): void {
  if (!name.startsWith('dnssync_')) throw new Error(`metric ${name} must be named dnssync_*`);
}

export function counter<L extends string>(cfg: Omit<CounterConfiguration<L>, 'registers'>): Counter<L> {
  checkName(cfg.name);
  return existing<Counter<L>>(cfg.name) ?? new Counter<L>({ ...cfg, registers: [registry] });
}

export function gauge<L extends string>(cfg: Omit<GaugeConfiguration<L>, 'registers'>): Gauge<L> {
  checkName(cfg.name);
  return existing<Gauge<L>>(cfg.name) ?? new Gauge<L>({ ...cfg, registers: [registry] });
}

export function histogram<L extends string>(cfg: Omit<HistogramConfiguration<L>, 'registers'>): Histogram<L> {
  checkName(cfg.name);
  return existing<Histogram<L>>(cfg.name) ?? new Histogram<L>({ ...cfg, registers: [registry] });
}

/** One line of a live metric: a value with its labels, under the family name plus a suffix. */
export interface LiveSample {
  /** '' for the family itself, '_bucket'/'_sum'/'_count' for a histogram's lines. */
  readonly suffix: '' | '_bucket' | '_sum' | '_count';
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/**
 * A metric whose lines are computed at scrape time from numbers kept elsewhere (typed arrays
 * a hot path counts into), instead of prom-client calls on the hot path. A second
 * registration under the same name replaces the way its lines are computed.
 */
export function liveMetric(name: string, help: string, type: 'counter' | 'gauge' | 'histogram', samples: () => readonly LiveSample[]): void {
  checkName(name);
  const found = existing<{ samples?: () => readonly LiveSample[] }>(name);
  if (found !== undefined && 'samples' in found) {
    found.samples = samples;
    return;
  }
  const metric = {
    name,
    help,
    type,
    aggregator: 'sum',
    samples,
    get() {
      return {
        name,
        help,
        type,
        aggregator: 'sum',
        values: metric.samples().map((s) => ({ metricName: name + s.suffix, labels: s.labels, value: s.value })),
      };
    },
    reset() {},
  };
  registry.registerMetric(metric as unknown as Parameters<RegistryT['registerMetric']>[0]);
}
