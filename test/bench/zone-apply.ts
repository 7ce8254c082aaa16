/**
 * The cost of one change at 1,000 versus 100,000 records: applying a single-record diff to a
 * zone snapshot (structure-sharing, O(changed)) next to rebuilding the snapshot from all
 * records (O(zone)), the naive way. Also lookup cost at both sizes.
 *
 *   node --expose-gc dist/test/bench/zone-apply.js   → table + test/bench/results/zone-apply.json
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canonicalRR } from '../../src/dns/rdata.js';
import type { RR } from '../../src/dns/rr.js';
import { applyDiff } from '../../src/zone/diff.js';
import { buildSnapshot, type IndexedZone } from '../../src/zone/snapshot.js';

const ORIGIN = 'bench.test';
const APPLIES = 1000;
/** Full rebuilds are slow at 100,000 records: a few are enough to measure. */
const REBUILDS_AT_1K = 50;
const REBUILDS_AT_100K = 5;
const LOOKUPS = 200_000;

function soa(serial: number): RR {
  return canonicalRR({
    name: ORIGIN,
    type: 'SOA',
    ttl: 60,
    data: { mname: `ns.${ORIGIN}`, rname: `hostmaster.${ORIGIN}`, serial, refresh: 60, retry: 10, expire: 3600, minimum: 5 },
  });
}

function record(i: number): RR {
  return canonicalRR({ name: `host${i}.ns${i % 97}.${ORIGIN}`, type: 'A', ttl: 30, data: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` });
}

function zoneOf(n: number): { snap: IndexedZone; records: RR[] } {
  const records = Array.from({ length: n }, (_, i) => record(i));
  return { snap: buildSnapshot(ORIGIN, [soa(1), ...records]), records };
}

/** A full collection between phases (with --expose-gc), so no phase pays for the last one's garbage. */
function settle(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

interface Row {
  records: number;
  applyUsPerChange: number;
  applyMedianUs: number;
  applyP99Us: number;
  rebuildUsPerChange: number;
  lookupNsPerQuery: number;
  /** Heap held by the records and their snapshot, per record (needs --expose-gc). */
  heapBytesPerRecord: number | null;
}

function measure(n: number): Row {
  settle();
  const heapBefore = process.memoryUsage().heapUsed;
  const { snap, records } = zoneOf(n);
  settle();
  const heapAfter = process.memoryUsage().heapUsed;
  const gcExposed = typeof (globalThis as { gc?: unknown }).gc === 'function';
  const rebuilds = n >= 100_000 ? REBUILDS_AT_100K : REBUILDS_AT_1K;
  // Warm up the JIT on this size before timing.
  let s = snap;
  for (let i = 0; i < 200; i++) {
    s = applyDiff(s, { origin: ORIGIN, fromSerial: s.serial, toSerial: s.serial + 1, soa: soa(s.serial + 1), deleted: [], added: [record(n + 10_000_000 + i)] });
  }
  s = snap;
  settle();
  // Each apply timed on its own: the median is the cost of the algorithm, the mean also
  // carries the garbage collections a bigger heap brings.
  const each = new Float64Array(APPLIES);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < APPLIES; i++) {
    // Alternate adds and deletes so the zone size stays put.
    const added = i % 2 === 0 ? [record(n + i)] : [];
    const deleted = i % 2 === 1 ? [record(n + i - 1)] : [];
    const a = process.hrtime.bigint();
    s = applyDiff(s, { origin: ORIGIN, fromSerial: s.serial, toSerial: s.serial + 1, soa: soa(s.serial + 1), deleted, added });
    each[i] = Number(process.hrtime.bigint() - a);
  }
  const applyNs = Number(process.hrtime.bigint() - t0);
  each.sort();
  if (s.size !== snap.size) throw new Error(`size drifted: ${s.size} vs ${snap.size}`);

  const names = Array.from({ length: 1024 }, (_, i) => (i % 4 === 3 ? `missing${i}.${ORIGIN}` : `HOST${(i * 7919) % n}.ns${((i * 7919) % n) % 97}.${ORIGIN}`));
  let hits = 0;
  for (let i = 0; i < 10_000; i++) s.lookup(names[i & 1023] as string, 'A');
  settle();
  const t2 = process.hrtime.bigint();
  for (let i = 0; i < LOOKUPS; i++) if (s.lookup(names[i & 1023] as string, 'A').kind === 'answer') hits++;
  const lookupNs = Number(process.hrtime.bigint() - t2);
  if (hits === 0) throw new Error('lookups found nothing');

  settle();
  const t1 = process.hrtime.bigint();
  for (let i = 0; i < rebuilds; i++) buildSnapshot(ORIGIN, [soa(2 + i), ...records, record(n + i)]);
  const rebuildNs = Number(process.hrtime.bigint() - t1);

  return {
    records: n,
    applyUsPerChange: applyNs / APPLIES / 1000,
    applyMedianUs: (each[APPLIES >> 1] ?? 0) / 1000,
    applyP99Us: (each[Math.floor(APPLIES * 0.99)] ?? 0) / 1000,
    rebuildUsPerChange: rebuildNs / rebuilds / 1000,
    lookupNsPerQuery: lookupNs / LOOKUPS,
    heapBytesPerRecord: gcExposed ? (heapAfter - heapBefore) / n : null,
  };
}

// A discarded first round, so that neither size is measured on cold code.
measure(1000);
const rows = [measure(1000), measure(100_000)];
const [small, large] = rows as [Row, Row];
const result = {
  bench: 'zone-apply',
  node: process.version,
  appliesPerSize: APPLIES,
  rows,
  ratio100kTo1k: {
    apply: large.applyUsPerChange / small.applyUsPerChange,
    applyMedian: large.applyMedianUs / small.applyMedianUs,
    rebuild: large.rebuildUsPerChange / small.rebuildUsPerChange,
    lookup: large.lookupNsPerQuery / small.lookupNsPerQuery,
  },
};

const here = dirname(fileURLToPath(import.meta.url));
// Compiled to dist/test/bench: write beside the sources, in test/bench/results.
const outDir = join(here, '..', '..', '..', 'test', 'bench', 'results');
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'zone-apply.json'), JSON.stringify(result, null, 2) + '\n');

console.log('records  apply µs: median    p99   mean  rebuild µs/change  lookup ns/query  heap B/record');
for (const r of rows) {
  const heap = r.heapBytesPerRecord === null ? '–' : r.heapBytesPerRecord.toFixed(0);
  console.log(
    `${String(r.records).padStart(7)}  ${r.applyMedianUs.toFixed(1).padStart(14)} ${r.applyP99Us.toFixed(1).padStart(6)} ${r.applyUsPerChange.toFixed(1).padStart(6)}  ${r.rebuildUsPerChange.toFixed(0).padStart(17)}  ${r.lookupNsPerQuery.toFixed(0).padStart(15)}  ${heap.padStart(13)}`,
  );
}
const ratio = result.ratio100kTo1k;
console.log(
  `ratio 100k/1k: apply median ${ratio.applyMedian.toFixed(2)}× (mean ${ratio.apply.toFixed(2)}×), rebuild ${ratio.rebuild.toFixed(0)}×, lookup ${ratio.lookup.toFixed(2)}×`,
);
