/**
 * The chaos suite's report: one row per fault, the totals (faults run, records compared,
 * divergences, time to converge p50/max), the load average (the machine is shared), written
 * as JSON to test/chaos/results/chaos.json and printed as a table.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname } from 'node:path';
import type { Divergence } from './compare.js';

export interface FaultResult {
  readonly fault: string;
  /** Issue #12 item, or where the fault was covered before. */
  readonly item: string;
  readonly changes: number;
  /** From the fault stopped (and the burst written) to every agent equal to the API; null: never. */
  readonly convergeMs: number | null;
  /** From the agents equal to the API to every DNSRecord's status saying so (Ready 3/3 at its generation); null: not within the deadline (10 s). */
  readonly statusMs: number | null;
  /** Records whose status had not settled 10 s after the agents did. */
  readonly statusStale: number;
  readonly recordsCompared: number;
  readonly absentChecked: number;
  readonly zonesChecked: number;
  /** Records differing at the end (never converged, or moved off after converging). */
  readonly divergences: number;
  readonly sample: readonly Divergence[];
  readonly notes: Readonly<Record<string, number | string>>;
}

export interface Report {
  readonly date: string;
  readonly command: string;
  readonly durationMs: number;
  readonly loadavg: { readonly start: readonly number[]; readonly end: readonly number[] };
  readonly setup: string;
  readonly totals: { faultsRun: number; recordsCompared: number; divergences: number; convergeP50Ms: number | null; convergeMaxMs: number | null };
  readonly faults: readonly FaultResult[];
}

/** Nearest-rank percentile of `xs` (0 < p ≤ 100); null for none. */
export function percentile(xs: readonly number[], p: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] as number;
}

export function totals(faults: readonly FaultResult[]): Report['totals'] {
  const times = faults.map((f) => f.convergeMs).filter((t): t is number => t !== null);
  return {
    faultsRun: faults.length,
    recordsCompared: faults.reduce((n, f) => n + f.recordsCompared, 0),
    divergences: faults.reduce((n, f) => n + f.divergences, 0),
    convergeP50Ms: percentile(times, 50),
    convergeMaxMs: times.length === 0 ? null : Math.max(...times),
  };
}

const sec = (ms: number | null): string => (ms === null ? 'never' : `${(ms / 1000).toFixed(2)} s`);

export function table(r: Report): string {
  const rows = [['fault', 'item', 'changes', 'records compared', 'divergences', 'converged in', 'statuses after'], ...r.faults.map((f) => [f.fault, f.item, String(f.changes), String(f.recordsCompared), String(f.divergences), sec(f.convergeMs), sec(f.statusMs)])];
  rows.push(['total', '', String(r.faults.reduce((n, f) => n + f.changes, 0)), String(r.totals.recordsCompared), String(r.totals.divergences), `p50 ${sec(r.totals.convergeP50Ms)}, max ${sec(r.totals.convergeMaxMs)}`, '']);
  const w = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length))) ?? [];
  const line = (row: readonly string[]): string => row.map((c, i) => c.padEnd(w[i] ?? 0)).join('  ');
  return [line(rows[0] as string[]), w.map((n) => '-'.repeat(n)).join('  '), ...rows.slice(1).map(line)].join('\n') + `\n${r.totals.faultsRun} faults in ${(r.durationMs / 1000).toFixed(0)} s, load average ${r.loadavg.start.map((x) => x.toFixed(2)).join('/')} at start, ${r.loadavg.end.map((x) => x.toFixed(2)).join('/')} at end`;
}

export function write(path: string, r: Report): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(r, null, 2) + '\n');
}

export function load(): number[] {
  return loadavg().map((x) => Math.round(x * 100) / 100);
}
