import { describe, expect, it } from 'vitest';
import { parseVerbose, percentile, statistic } from './dnsperf.js';

const OUT = `[Status] Sending queries (to 127.0.0.1:53)
> NOERROR h1.bench.test A 0.000100
> NOERROR h2.bench.test A 0.000300
> T h3.bench.test A
> NXDOMAIN nope.bench.test A 0.000200
[Status] Testing complete (time limit)

Statistics:

  Queries sent:         4
  Queries lost:         1 (25.00%)
`;

describe('dnsperf -v output', () => {
  it('counts a timed-out query as lost and as a latency at the timeout', () => {
    const l = parseVerbose(OUT, 5000);
    expect(l.timedOut).toBe(1);
    expect(l.answered).toBe(3);
    expect(Array.from(l.sortedMs)).toEqual([0.1, 0.2, 0.3, 5000].map((x) => expect.closeTo(x, 9)));
    // The slowest query is the lost one: max and the top percentiles show it.
    expect(percentile(l.sortedMs, 100)).toBe(5000);
    expect(percentile(l.sortedMs, 50)).toBeCloseTo(0.2, 9);
  });

  it('refuses a line it cannot read rather than dropping it', () => {
    expect(() => parseVerbose('> NOERROR h1.bench.test A soon\n', 5000)).toThrow(/unreadable/);
  });

  it('reads a statistic, NaN when absent', () => {
    expect(statistic(OUT, /Queries lost:\s+(\d+)/)).toBe(1);
    expect(statistic(OUT, /Queries per second:\s+([\d.]+)/)).toBeNaN();
  });
});

describe('percentile (nearest rank)', () => {
  const xs = Array.from({ length: 1000 }, (_, i) => i + 1);
  it('p99.9 of 1,000 samples is the second slowest, p99 the eleventh', () => {
    expect(percentile(xs, 99.9)).toBe(999);
    expect(percentile(xs, 99)).toBe(990);
    expect(percentile(xs, 100)).toBe(1000);
    expect(percentile([], 50)).toBeNaN();
  });
});
