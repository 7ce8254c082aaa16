/**
 * Reading dnsperf's output for the query benchmark. With -v, dnsperf prints one line per
 * query: `> NOERROR h1.bench.test A 0.000123` (rcode, name, type, seconds) for an answer,
 * `> T h1.bench.test A` for a query that timed out. A timeout is a lost query and, for the
 * latency percentiles, a latency of the timeout itself: dropping it would describe only the
 * queries that were answered, and a server that loses its slowest queries would look fast.
 */

export interface Latencies {
  /** Milliseconds, ascending; timed-out queries are in it at `timeoutMs`. */
  readonly sortedMs: Float64Array;
  readonly answered: number;
  readonly timedOut: number;
}

export function parseVerbose(out: string, timeoutMs: number): Latencies {
  const ms: number[] = [];
  let timedOut = 0;
  for (const line of out.split('\n')) {
    if (!line.startsWith('> ')) continue;
    const fields = line.trim().split(/\s+/);
    if (fields[1] === 'T') {
      timedOut++;
      ms.push(timeoutMs);
      continue;
    }
    const v = Number(fields[fields.length - 1]);
    if (fields.length < 5 || !Number.isFinite(v)) throw new Error(`dnsperf -v: unreadable line ${JSON.stringify(line)}`);
    ms.push(v * 1000);
  }
  const sortedMs = Float64Array.from(ms).sort();
  return { sortedMs, answered: ms.length - timedOut, timedOut };
}

/** Nearest-rank percentile (p in 0-100] of ascending values; NaN when there are none. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  // The epsilon keeps float error from pushing an exact rank up one (99.9 % of 1,000 is
  // 999.0000000000001 in doubles).
  const rank = Math.ceil((p * sorted.length) / 100 - 1e-9);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

/** A number from dnsperf's statistics block, e.g. /Queries lost:\s+(\d+)/; NaN if absent. */
export function statistic(out: string, re: RegExp): number {
  const m = re.exec(out);
  return m ? Number(m[1]) : NaN;
}
