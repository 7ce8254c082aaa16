/**
 * The process's one Prometheus registry. Every metric is named dnssync_*; modules create
 * theirs through these helpers so that a second import returns the same metric.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type CounterConfiguration, type GaugeConfiguration, type HistogramConfiguration } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'dnssync_process_' });

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
