import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { counter, registerGcMetric, registry } from './metrics.js';

function sample(text: string, name: string): number {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

describe('metrics registry', () => {
  it("exposes the process metrics operators expect under dnssync_process_, CPU included", async () => {
    // Burn 30 ms of CPU (not wall time: CI runs files in parallel on two cores) so the
    // counters have something to count; bounded by a 10 s deadline.
    const start = process.cpuUsage();
    const deadline = Date.now() + 10_000;
    while (process.cpuUsage(start).user < 30_000 && Date.now() < deadline) Math.sqrt(Math.random());
    expect(process.cpuUsage(start).user).toBeGreaterThanOrEqual(30_000);
    const text = await registry.metrics();
    for (const n of ['process_resident_memory_bytes', 'process_start_time_seconds', 'process_open_fds', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_version_info']) {
      expect(text, n).toMatch(new RegExp(`^dnssync_process_${n}[ {]`, 'm'));
    }
    // GC durations are opt-in (a PerformanceObserver on every collection costs the agent tail latency).
    expect(text).not.toMatch(/nodejs_gc_duration_seconds/);
    const user = sample(text, 'dnssync_process_process_cpu_user_seconds_total');
    const system = sample(text, 'dnssync_process_process_cpu_system_seconds_total');
    const total = sample(text, 'dnssync_process_process_cpu_seconds_total');
    expect(user).toBeGreaterThan(0.02);
    expect(total).toBeCloseTo(user + system, 6);
    // Counters only go up: a second scrape adds the CPU used in between.
    const again = sample(await registry.metrics(), 'dnssync_process_process_cpu_seconds_total');
    expect(again).toBeGreaterThanOrEqual(total);
  });

  it('adds GC durations when a process asks for them, once', async () => {
    registerGcMetric();
    registerGcMetric();
    const text = await registry.metrics();
    expect(text.match(/^# TYPE dnssync_process_nodejs_gc_duration_seconds histogram$/gm)).toHaveLength(1);
  });

  it('returns the same metric for a second registration and refuses names outside dnssync_', async () => {
    const a = counter({ name: 'dnssync_test_things_total', help: 'things', labelNames: ['kind'] });
    const b = counter({ name: 'dnssync_test_things_total', help: 'things', labelNames: ['kind'] });
    expect(b).toBe(a);
    a.inc({ kind: 'x' }, 2);
    expect(await registry.metrics()).toMatch(/^dnssync_test_things_total\{kind="x"\} 2$/m);
    expect(() => counter({ name: 'other_total', help: 'no' })).toThrow(/dnssync_/);
  });

  it("does not load prom-client's index, Pushgateway or OpenTelemetry (their RSS is why)", () => {
    const loaded = Object.keys(createRequire(import.meta.url).cache);
    expect(loaded.some((f) => f.includes('/prom-client/lib/registry.js'))).toBe(true);
    expect(loaded.filter((f) => f.endsWith('/prom-client/index.js') || f.includes('/prom-client/lib/pushgateway.js') || f.includes('@opentelemetry'))).toEqual([]);
  });
});
