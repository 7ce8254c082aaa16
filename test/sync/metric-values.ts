/** Reads one metric value from the process registry (tests compare before/after). */
import { registry } from '../../src/observability/metrics.js';

export async function counterValue(name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) return 0;
  const data = await m.get();
  let sum = 0;
  for (const v of data.values) {
    const l = v.labels as Record<string, string | number>;
    if (Object.entries(labels).every(([k, want]) => String(l[k]) === want)) sum += v.value;
  }
  return sum;
}

/** Same reading for a gauge: the sum over the series matching `labels`. */
export const gaugeValue = counterValue;
