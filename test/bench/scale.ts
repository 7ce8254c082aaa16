/**
 * Benchmark 3 (DESIGN.md), the controller's part: 100,000 records. The controller core runs
 * in this process exactly as the CLI wires it (Controller + the sync engine's Primary), fed
 * through the same entry points its informers call, so the API server's own cost is left out;
 * the agent is a real `dnssync agent` process.
 *
 * Measures: controller heap for 100k records (reconciled state + zone + journal), agent RSS,
 * full sync time (takeover → the agent acknowledges the 100k-record zone), and one change at
 * 1,000 versus 100,000 records — controller time (event → new serial published) and end to end
 * (event → agent acknowledged) — in two zones served side by side.
 *
 *   node --expose-gc dist/test/bench/scale.js   → table + test/bench/results/scale.json
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Controller } from '../../src/controller/controller.js';
import { recordRdata } from '../../src/controller/rdata.js';
import { SyncPublisher, syncPublisherFactory } from '../../src/controller/sync-publisher.js';
import type { RecordObject, ZoneObject } from '../../src/controller/objects.js';
import { DEFAULT_SOA } from '../../src/controller/objects.js';
import { configureLogger } from '../../src/observability/logger.js';
import { parseKeyFile } from '../../src/dns/tsig.js';
import { freePort } from '../controlplane/ports.js';
import { ManagedProcess } from '../controlplane/process.js';
import { httpGet, kdig, mainJs, nodeBin, requireBuild, startAgents, tempDir, writeKeyFile } from '../controller/harness.js';
import { waitFor } from '../util/wait.js';

const BIG = Number(process.env['BENCH_RECORDS'] ?? 100_000);
const SMALL = 1000;
const CHANGES = Number(process.env['BENCH_CHANGES'] ?? 200);
const IP = '127.0.54.1';
const CTL_IP = '127.0.54.100';
const FANOUT = Number(process.env['BENCH_FANOUT'] ?? 100);
const RATE = Number(process.env['BENCH_RATE'] ?? 1000);

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) {
    g();
    g();
  }
}

function heapMB(): number {
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

function rssMB(pid: number | undefined): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function zone(name: string, origin: string): ZoneObject {
  return { meta: { name, uid: name, resourceVersion: '1', generation: 1, created: 1 }, origin, defaultTTL: 30, soa: DEFAULT_SOA, selector: undefined, status: undefined };
}

function record(origin: string, i: number, gen = 1, value = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`): RecordObject {
  return {
    meta: { name: `r${i}`, namespace: origin, uid: `${origin}-${i}`, resourceVersion: String(gen), generation: gen, created: 1 },
    owner: `host${i}.g${i % 97}.${origin}`,
    type: 'A',
    ttl: undefined,
    values: [value],
    status: undefined,
  };
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round((s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] ?? NaN) * 1000) / 1000;
}

async function main(): Promise<void> {
  requireBuild();
  configureLogger('warn');
  const dir = await tempDir('bench-scale');
  const keyFile = await writeKeyFile(dir);
  const keys = parseKeyFile(readFileSync(keyFile, 'utf8'));
  const dnsPort = await freePort(IP);
  const syncPort = await freePort(IP);
  const metrics = `${IP}:${await freePort(IP)}`;
  const agent = new ManagedProcess({
    name: 'agent',
    command: nodeBin,
    args: [mainJs, 'agent', '--listen', `${IP}:${dnsPort}`, '--sync-listen', `${IP}:${syncPort}`, '--tsig-key-file', keyFile, '--metrics-listen', metrics, '--log-level', 'warn'],
    logFile: join(dir, 'agent.log'),
  });
  try {
    await waitFor(async () => (agent.assertRunning(), (await httpGet(metrics, '/healthz').catch(() => ({ status: 0 }))).status === 200), { what: 'agent up', timeoutMs: 30_000 });
    const agentIdleMB = rssMB(agent.pid);

    let pub: SyncPublisher | undefined;
    const factory = syncPublisherFactory({ host: CTL_IP, port: 0, keys, log: configureLogger('warn') });
    let statusWrites = 0;
    const heap0 = heapMB();
    const ctl = new Controller({
      log: configureLogger('warn'),
      parse: recordRdata,
      publisher: async (agents, zones) => (pub = (await factory(agents, zones)) as SyncPublisher),
      patchStatus: async () => {
        statusWrites++;
      },
      isNotFound: () => false,
      emitEvent: () => undefined,
      agentSyncPort: syncPort,
      statusQps: 100_000,
      statusBurst: 100_000,
    });
    const small = 'small.test';
    const big = 'big.test';
    ctl.zoneUpserted(zone('small', small), undefined, performance.now());
    ctl.zoneUpserted(zone('big', big), undefined, performance.now());
    const tFeed = performance.now();
    for (let i = 0; i < SMALL; i++) ctl.recordUpserted(record(small, i), undefined, performance.now());
    for (let i = 0; i < BIG; i++) ctl.recordUpserted(record(big, i), undefined, performance.now());
    await new Promise((r) => setImmediate(r));
    const reconcileMs = performance.now() - tFeed;
    const heapReconciled = heapMB();

    // Takeover: the agent appears, this controller starts leading, the whole zone goes out.
    ctl.podUpserted({ meta: { name: 'agent-0', namespace: 'bench', uid: 'p', resourceVersion: '1', generation: 0, created: 0 }, podIP: IP, ready: true, deleting: false });
    const tLead = performance.now();
    await ctl.startLeading();
    const p = pub as SyncPublisher | undefined;
    if (!p) throw new Error('no publisher');
    await waitFor(() => {
      const s = p.primary.zone(big)?.serial;
      return s !== undefined && p.acked('bench/agent-0', big) === s;
    }, { what: 'agent acknowledged the big zone', timeoutMs: 180_000, intervalMs: 10 });
    const fullSyncMs = performance.now() - tLead;
    const last = `host${BIG - 1}.g${(BIG - 1) % 97}.${big}`;
    const answer = await kdig(IP, dnsPort, last, 'A');
    if (answer.length !== 1) throw new Error(`agent does not answer ${last}`);
    await ctl.statusIdle();
    const heapLeading = heapMB();
    const agentMB = rssMB(agent.pid);

    // One change at a time, alternating zones: controller time and end-to-end time.
    const cost: Record<string, { ctl: number[]; e2e: number[] }> = { [small]: { ctl: [], e2e: [] }, [big]: { ctl: [], e2e: [] } };
    for (let k = 0; k < CHANGES * 2; k++) {
      // One change at a time in a quiet cluster: spaced past the controller's 5 ms burst
      // coalescing window, which would otherwise hold back each back-to-back change.
      await new Promise((r) => setTimeout(r, 6));
      const origin = k % 2 === 0 ? small : big;
      const i = (k * 7919) % SMALL;
      const before = p.primary.zone(origin)?.serial;
      const published = new Promise<number>((resolve) => {
        const on = (o: string): void => {
          if (o !== origin) return;
          p.primary.off('serial', on);
          resolve(performance.now());
        };
        p.primary.on('serial', on);
      });
      const t0 = performance.now();
      ctl.recordUpserted(record(origin, i, k + 2, `10.200.${(k >> 8) & 255}.${k & 255}`), record(origin, i), t0);
      const t1 = await published;
      const serial = p.primary.zone(origin)?.serial;
      if (serial === before) throw new Error('no new serial');
      await new Promise<void>((resolve) => {
        const check = (_a: string, o: string, s: number): void => {
          if (o === origin && s === serial) {
            p.primary.off('ack', check);
            resolve();
          }
        };
        p.primary.on('ack', check);
        if (p.acked('bench/agent-0', origin) === serial) resolve();
      });
      const t2 = performance.now();
      (cost[origin] as { ctl: number[]; e2e: number[] }).ctl.push(t1 - t0);
      (cost[origin] as { ctl: number[]; e2e: number[] }).e2e.push(t2 - t0);
    }

    // Sustained changes to 100 agents, without the API server: the big zone is dropped, 100
    // agents (in this process, 127.0.55.1-100) join, then RATE changes/s go in for 3 s.
    ctl.zoneDeleted(zone('big', big), performance.now());
    const { agents: many } = await startAgents(FANOUT, (i) => `127.0.55.${i + 1}`, syncPort);
    many.forEach((a, i) => ctl.podUpserted({ meta: { name: `many-${i}`, namespace: 'bench', uid: `m${i}`, resourceVersion: '1', generation: 0, created: 0 }, podIP: a.ip, ready: true, deleting: false }));
    const synced = (): boolean => {
      const s = p.primary.zone(small)?.serial;
      return many.every((_, i) => p.acked(`bench/many-${i}`, small) === s);
    };
    await waitFor(synced, { what: `${FANOUT} agents hold the small zone`, timeoutMs: 60_000, intervalMs: 10 });
    const total = RATE * 3;
    const tStart = performance.now();
    let sent = 0;
    await new Promise<void>((resolve) => {
      const tick = (): void => {
        const due = Math.min(total, Math.floor(((performance.now() - tStart) / 1000) * RATE) + 1);
        for (; sent < due; sent++) ctl.recordUpserted(record(small, sent % SMALL, 1000 + sent, `10.201.${(sent >> 8) & 255}.${sent & 255}`), record(small, sent % SMALL), performance.now());
        if (sent < total) setTimeout(tick, 1);
        else resolve();
      };
      tick();
    });
    const tSent = performance.now();
    await waitFor(synced, { what: 'every agent acknowledged the last change', timeoutMs: 120_000, intervalMs: 5 });
    const tDone = performance.now();
    for (const a of many) await a.stop();
    await ctl.close();
    const fanout = { agents: FANOUT, changes: total, offered_per_s: RATE, fed_per_s: Math.round(total / ((tSent - tStart) / 1000)), delivered_per_s: Math.round(total / ((tDone - tStart) / 1000)), drain_after_last_ms: Math.round(tDone - tSent) };

    const c1 = cost[small] as { ctl: number[]; e2e: number[] };
    const c2 = cost[big] as { ctl: number[]; e2e: number[] };
    const result = {
      bench: 'scale',
      date: new Date().toISOString(),
      records: BIG,
      controller: {
        reconcile_all_ms: Math.round(reconcileMs),
        heap_mb_reconciled: Math.round(heapReconciled - heap0),
        heap_mb_leading: Math.round(heapLeading - heap0),
      },
      agent: { rss_mb_idle: Math.round(agentIdleMB), rss_mb_with_zone: Math.round(agentMB) },
      full_sync_ms: Math.round(fullSyncMs),
      one_change_ms: {
        at_1k: { controller_p50: pct(c1.ctl, 0.5), controller_p99: pct(c1.ctl, 0.99), end_to_end_p50: pct(c1.e2e, 0.5), end_to_end_p99: pct(c1.e2e, 0.99) },
        at_100k: { controller_p50: pct(c2.ctl, 0.5), controller_p99: pct(c2.ctl, 0.99), end_to_end_p50: pct(c2.e2e, 0.5), end_to_end_p99: pct(c2.e2e, 0.99) },
        ratio_end_to_end_p50: Math.round((pct(c2.e2e, 0.5) / pct(c1.e2e, 0.5)) * 100) / 100,
      },
      fanout,
      status_writes: statusWrites,
    };
    const out = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'bench', 'results', 'scale.json');
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
    console.log(`records: ${BIG} (+ ${SMALL} in a second zone)`);
    console.log(`controller: reconcile all ${result.controller.reconcile_all_ms} ms; heap ${result.controller.heap_mb_reconciled} MB reconciled, ${result.controller.heap_mb_leading} MB leading (zone + journal)`);
    console.log(`agent: RSS ${result.agent.rss_mb_idle} MB idle, ${result.agent.rss_mb_with_zone} MB holding the zone`);
    console.log(`full sync (takeover → agent acknowledged ${BIG} records): ${result.full_sync_ms} ms`);
    console.log('one change        | controller p50 / p99 ms | end to end p50 / p99 ms');
    console.log(`at 1,000 records  | ${result.one_change_ms.at_1k.controller_p50} / ${result.one_change_ms.at_1k.controller_p99} | ${result.one_change_ms.at_1k.end_to_end_p50} / ${result.one_change_ms.at_1k.end_to_end_p99}`);
    console.log(`at ${BIG.toLocaleString('en')} | ${result.one_change_ms.at_100k.controller_p50} / ${result.one_change_ms.at_100k.controller_p99} | ${result.one_change_ms.at_100k.end_to_end_p50} / ${result.one_change_ms.at_100k.end_to_end_p99}`);
    console.log(`sustained: ${fanout.changes} changes offered at ${fanout.offered_per_s}/s to ${fanout.agents} agents (in this process): delivered to all at ${fanout.delivered_per_s}/s, last change everywhere ${fanout.drain_after_last_ms} ms after it was made`);
    console.log(`\nwritten to ${out}`);
  } finally {
    await agent.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
