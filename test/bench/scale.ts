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
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Controller } from '../../src/controller/controller.js';
import { recordRdata } from '../../src/controller/rdata.js';
import { SyncPublisher, syncPublisherFactory } from '../../src/controller/sync-publisher.js';
import type { RecordObject, ZoneObject } from '../../src/controller/objects.js';
import { DEFAULT_ZONE_SOA } from '../../src/controller/objects.js';
import { configureLogger } from '../../src/observability/logger.js';
import { registry } from '../../src/observability/metrics.js';
import { parseKeyFile, type TsigKey } from '../../src/dns/tsig.js';
import { freePort } from '../controlplane/ports.js';
import { ManagedProcess } from '../controlplane/process.js';
import { httpGet, kdig, mainJs, nodeBin, requireBuild, tempDir, writeKeyFile } from '../controller/harness.js';
import { AgentFleet, now } from './agent-fleet.js';
import { waitFor } from '../util/wait.js';

const BIG = Number(process.env['BENCH_RECORDS'] ?? 100_000);
const SMALL = 1000;
const CHANGES = Number(process.env['BENCH_CHANGES'] ?? 200);
const IP = '127.0.54.1';
const CTL_IP = '127.0.54.100';
const FANOUT = Number(process.env['BENCH_FANOUT'] ?? 100);
const RATE = Number(process.env['BENCH_RATE'] ?? 1000);
const FANOUT_SECONDS = Number(process.env['BENCH_FANOUT_SECONDS'] ?? 10);
/** Changes made in the first seconds are left out of the steady-state figures. */
const WARMUP_SECONDS = 2;
const FANOUT_PROCS = Number(process.env['BENCH_FANOUT_PROCS'] ?? 2);

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
  return { meta: { name, uid: name, resourceVersion: '1', generation: 1, created: 1 }, origin, defaultTTL: 30, soa: DEFAULT_ZONE_SOA, selector: undefined, status: undefined };
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

interface Fanout {
  agents: number;
  agent_processes: number;
  changes: number;
  seconds: number;
  offered_per_s: number;
  fed_per_s: number;
  serials: number;
  steady: { from_s: number; delivered_per_s: number; lag_ms: { p50: number; p99: number; max: number } };
  delivered_per_s_overall: number;
  backlog_at_end: number;
  drain_after_last_ms: number;
  cpu_s: { controller: number; agents: number[] };
  /** NOTIFYs (diff / plain), retries and transfers over the feed, at the primary. */
  primary_counters: Record<string, number>;
}

/** Sync engine counters (this process: the primary's side), flattened to name{labels} → value. */
async function syncCounters(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const name of ['dnssync_sync_notifies_sent_total', 'dnssync_sync_notifies_retried_total', 'dnssync_sync_transfers_served_total']) {
    const m = registry.getSingleMetric(name);
    if (!m) continue;
    for (const v of (await m.get()).values) out[`${name.replace('dnssync_sync_', '').replace('_total', '')}${Object.keys(v.labels).length ? `{${Object.values(v.labels).join(',')}}` : ''}`] = v.value;
  }
  return out;
}

function cpuSeconds(pid: number | undefined): number {
  // utime + stime, fields 14 and 15 of /proc/PID/stat, in clock ticks (100/s on Linux).
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(f[11]) + Number(f[12])) / 100;
}

/**
 * RATE changes/s for FANOUT_SECONDS into one zone, each made through the controller. A
 * change is delivered when every agent holds a serial that contains it (the first serial
 * published after it was made: the controller coalesces a burst into serials >= 5 ms apart);
 * its lag is that instant minus the instant it was made, from the agents' own apply stamps.
 */
async function sustained(ctl: Controller, p: SyncPublisher, fleet: AgentFleet, origin: string): Promise<Fanout> {
  fleet.agents.forEach((a, i) => ctl.podUpserted({ meta: { name: `many-${i}`, namespace: 'bench', uid: `m${i}`, resourceVersion: '1', generation: 0, created: 0 }, podIP: a.host, ready: true, deleting: false }));
  const allAcked = (): boolean => {
    const s = p.primary.zone(origin)?.serial;
    return fleet.agents.every((_, i) => p.acked(`bench/many-${i}`, origin) === s);
  };
  await waitFor(allAcked, { what: `${FANOUT} agents hold the zone`, timeoutMs: 60_000, intervalMs: 10 });
  const published: [number, number][] = [];
  p.primary.on('serial', (o, serial) => {
    if (o === origin) published.push([serial, now()]);
  });
  const total = RATE * FANOUT_SECONDS;
  const counters0 = await syncCounters();
  const fedAt: number[] = [];
  const cpu0 = process.cpuUsage();
  const agentCpu0 = fleet.pids.map(cpuSeconds);
  const tStart = now();
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const due = Math.min(total, Math.floor(((now() - tStart) / 1000) * RATE) + 1);
      for (let k = fedAt.length; k < due; k++) {
        const t = now();
        fedAt.push(t);
        ctl.recordUpserted(record(origin, k % SMALL, 1000 + k, `10.201.${(k >> 8) & 255}.${k & 255}`), record(origin, k % SMALL), performance.now());
      }
      if (fedAt.length < total) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  const tSent = now();
  const cpu = process.cpuUsage(cpu0);
  const counters1 = await syncCounters();
  const counters = Object.fromEntries(Object.entries(counters1).map(([k, v]) => [k, v - (counters0[k] ?? 0)]).filter(([, v]) => v !== 0));
  const agentCpu = fleet.pids.map((pid, i) => Math.round((cpuSeconds(pid) - (agentCpu0[i] as number)) * 10) / 10);
  await waitFor(allAcked, { what: 'every agent acknowledged the last change', timeoutMs: 120_000, intervalMs: 5 });
  const last = p.primary.zone(origin)?.serial as number;
  // Acks come after the apply; the apply stamps travel over IPC and may trail a little.
  await waitFor(() => [...fleet.history.values()].every((h) => (h[h.length - 1]?.[0] ?? 0) >= last) && fleet.history.size === FANOUT, { what: 'apply reports', timeoutMs: 10_000, intervalMs: 5 });

  // When every agent first held a serial >= s, for each published serial s (serials grow by
  // one per publish within a run, so plain comparison is safe here).
  const everywhere = published.map(() => 0);
  for (const h of fleet.history.values()) {
    let k = 0;
    published.forEach(([s], j) => {
      while (k < h.length && (h[k] as [number, number])[0] < s) k++;
      everywhere[j] = Math.max(everywhere[j] as number, h[k]?.[1] ?? Infinity);
    });
  }
  if (process.env['BENCH_DEBUG']) {
    const d = published.map(([s, t], j) => `${s}:${Math.round(t - tStart)}+${Math.round((everywhere[j] as number) - t)}`);
    process.stderr.write(`serial:published_ms+everywhere_after_ms ${d.filter((_, j) => j % 50 === 0).join(' ')}\n`);
  }
  let j = 0;
  const visible = fedAt.map((t) => {
    while (j < published.length && (published[j] as [number, number])[1] < t) j++;
    return everywhere[j] ?? Infinity;
  });
  const w0 = tStart + WARMUP_SECONDS * 1000;
  const lags = fedAt.map((t, i) => (visible[i] as number) - t).filter((_, i) => (fedAt[i] as number) >= w0);
  // Only the window's own changes (fed at or after w0) count, and only once every agent has
  // them before the feed stops: a delivery of a change fed before the window is not the
  // window's, or the rate could exceed what was offered.
  const deliveredInWindow = visible.filter((v, i) => (fedAt[i] as number) >= w0 && v <= tSent).length;
  return {
    agents: FANOUT,
    agent_processes: FANOUT_PROCS,
    changes: total,
    seconds: FANOUT_SECONDS,
    offered_per_s: RATE,
    fed_per_s: Math.round(total / ((tSent - tStart) / 1000)),
    serials: published.length,
    steady: {
      from_s: WARMUP_SECONDS,
      delivered_per_s: Math.round(deliveredInWindow / ((tSent - w0) / 1000)),
      lag_ms: { p50: pct(lags, 0.5), p99: pct(lags, 0.99), max: Math.round(Math.max(...lags) * 1000) / 1000 },
    },
    delivered_per_s_overall: Math.round(total / ((Math.max(...visible) - tStart) / 1000)),
    backlog_at_end: visible.filter((v) => v > tSent).length,
    drain_after_last_ms: Math.round((visible[visible.length - 1] as number) - (fedAt[fedAt.length - 1] as number)),
    cpu_s: { controller: Math.round(((cpu.user + cpu.system) / 1e6) * 10) / 10, agents: agentCpu },
    primary_counters: counters,
  };
}

async function main(): Promise<void> {
  requireBuild();
  const load0 = loadavg().map((x) => Math.round(x * 10) / 10);
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
      publisher: async (agents, zones, term) => (pub = (await factory(agents, zones, term)) as SyncPublisher),
      patchStatus: async () => {
        statusWrites++;
      },
      isNotFound: () => false,
      emitEvent: () => undefined,
      agentSyncPort: syncPort,
      ...(process.env['BENCH_MIN_FLUSH_MS'] ? { minFlushIntervalMs: Number(process.env['BENCH_MIN_FLUSH_MS']) } : {}),
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

    // Sustained changes to 100 agents. Fed through the controller's own entry point
    // (recordUpserted, as its informer calls it), not through the API server: the local
    // kube-apiserver here accepts only 450-680 writes/s, so it could not offer 1,000/s. The
    // agents run in FANOUT_PROCS child processes (test/bench/push-agents.ts), not in this one,
    // so the controller and primary do not share an event loop and a heap with them.
    ctl.zoneDeleted(zone('big', big), performance.now());
    const fleet = await AgentFleet.start({ hosts: Array.from({ length: FANOUT }, (_, i) => `127.0.55.${i + 1}`), key: keys[0] as TsigKey, processes: FANOUT_PROCS, syncPort, log: true, execArgv: (process.env['BENCH_FANOUT_CHILD_ARGS'] ?? '').split(' ').filter((x) => x !== '') });
    const fanout = await sustained(ctl, p, fleet, small);
    await fleet.stop();
    await ctl.close();

    const c1 = cost[small] as { ctl: number[]; e2e: number[] };
    const c2 = cost[big] as { ctl: number[]; e2e: number[] };
    const result = {
      bench: 'scale',
      date: new Date().toISOString(),
      // 1/5/15-minute load averages at the start and the end: the machine is shared.
      loadavg: { start: load0, end: loadavg().map((x) => Math.round(x * 10) / 10) },
      fanout_rates: 'steady.delivered_per_s counts only changes fed in the window (after the first from_s s) that every agent held before the feed stopped, over the window; delivered_per_s_overall is all changes over first feed to last everywhere',
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
    console.log(`sustained: ${fanout.changes} changes offered at ${fanout.offered_per_s}/s for ${fanout.seconds} s to ${fanout.agents} agents (${fanout.agent_processes} agent processes): fed ${fanout.fed_per_s}/s in ${fanout.serials} serials`);
    console.log(`  whole run: delivered to every agent at ${fanout.delivered_per_s_overall}/s (all changes, first fed → last everywhere)`);
    console.log(`  steady state (changes fed after the first ${fanout.steady.from_s} s, everywhere before the feed stopped): ${fanout.steady.delivered_per_s}/s; change → every agent lag p50 ${fanout.steady.lag_ms.p50} / p99 ${fanout.steady.lag_ms.p99} / max ${fanout.steady.lag_ms.max} ms`);
    console.log(`  at the end of the feed: ${fanout.backlog_at_end} changes not yet everywhere; last change everywhere ${fanout.drain_after_last_ms} ms after it was made`);
    console.log(`  primary over the feed: ${Object.entries(fanout.primary_counters).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    console.log(`  CPU over the feed: controller+primary ${fanout.cpu_s.controller} s, agent processes ${fanout.cpu_s.agents.join(' + ')} s (of ${fanout.seconds} s × 2 cores)`);
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
