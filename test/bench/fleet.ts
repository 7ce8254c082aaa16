/**
 * Benchmark 3 (DESIGN.md), the fleet part: 100, 1,000 and 5,000 agents. The leader — the
 * controller core and the sync engine's Primary, wired as the CLI wires them — runs in this
 * process and is fed through its informer entry points (no API server); the agents are
 * simulated (test/bench/fleet-sim.ts: real TSIG, NOTIFY/ACK, IXFR/AXFR over TCP; only a serial
 * and a record count per agent), many per child process, so the leader's CPU and memory
 * (process.cpuUsage / memoryUsage here) are its own and the fleet's are counted apart.
 *
 * Per fleet size: the cold start (every agent pulls the zone), the leader's memory per agent,
 * lone changes (change → every agent, p50/p99/max), a sustained feed (offered vs delivered
 * changes/s, lag, backlog over time, leader CPU per change), and a leader restart (a new term
 * resyncs every agent: time, transfers in flight at once).
 *
 *   node --expose-gc dist/test/bench/fleet.js   → table + test/bench/results/fleet.json + fleet.svg
 *   BENCH_FLEET_SIZES=100,1000 BENCH_FLEET_SECONDS=5 … for a quicker run
 */
import { fork, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Controller } from '../../src/controller/controller.js';
import { recordRdata } from '../../src/controller/rdata.js';
import { SyncPublisher, syncPublisherFactory } from '../../src/controller/sync-publisher.js';
import type { RecordObject, ZoneObject } from '../../src/controller/objects.js';
import { DEFAULT_ZONE_SOA } from '../../src/controller/objects.js';
import { configureLogger } from '../../src/observability/logger.js';
import { registry } from '../../src/observability/metrics.js';
import type { TsigKey } from '../../src/dns/tsig.js';
import { freePort } from '../controlplane/ports.js';
import { TSIG_KEY } from '../controller/harness.js';
import { waitFor } from '../util/wait.js';
import { fleetSvg } from './fleet-plot.js';

const here = dirname(fileURLToPath(import.meta.url));
const SIZES = (process.env['BENCH_FLEET_SIZES'] ?? '100,1000,5000').split(',').map(Number);
const RECORDS = Number(process.env['BENCH_FLEET_RECORDS'] ?? 2000);
const SECONDS = Number(process.env['BENCH_FLEET_SECONDS'] ?? 10);
const WARMUP_S = 2;
const LONE = Number(process.env['BENCH_FLEET_LONE'] ?? 40);
/** Offered changes/s by fleet size: today's 1,000/s at 100 agents, the goal's 100/s beyond. */
function rateFor(agents: number): number {
  const env = process.env[`BENCH_FLEET_RATE_${agents}`];
  if (env) return Number(env);
  return agents <= 100 ? 1000 : 100;
}
/**
 * Each size runs with push streams (src/sync/push-stream.ts) and then, side by side in the same
 * run, without them (datagrams only, as before them) unless BENCH_FLEET_BASELINE=0.
 */
const BASELINE = process.env['BENCH_FLEET_BASELINE'] !== '0';
const PROCS = Number(process.env['BENCH_FLEET_PROCS'] ?? 4);
const CTL_IP = '127.61.255.1';
const ORIGIN = 'fleet.test';

const now = (): number => performance.timeOrigin + performance.now();
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;
const load = (): number[] => loadavg().map((x) => round(x, 2));

function agentIp(i: number): string {
  return `127.61.${Math.floor(i / 250)}.${(i % 250) + 1}`;
}

function pct(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return round(s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] as number, 2);
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) {
    g();
    g();
  }
}

function mem(): { heap: number; rss: number } {
  gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, rss: m.rss };
}

/** UDP datagrams the kernel dropped for a full receive buffer, in this network namespace. */
function rcvbufErrors(): number {
  try {
    const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
    const names = (lines[0] ?? '').split(/\s+/);
    const values = (lines[1] ?? '').split(/\s+/);
    return Number(values[names.indexOf('RcvbufErrors')] ?? NaN);
  } catch {
    return NaN;
  }
}

function cpuMs(since?: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(since);
  return (c.user + c.system) / 1000;
}

interface ChildStats {
  agents: number;
  serials: [number, number][];
  records: number;
  reached: [number, number, number][];
  counts: { notifies: number; streamed: number; diffs: number; acks: number; pulls: number; pullFailures: number; refused: number; inflight: number; maxInflight: number; pullMs: number[] };
  cpu: NodeJS.CpuUsage;
  rss: number;
}

/** The simulated agents, spread round-robin over a few child processes. */
class Fleet {
  private constructor(
    private readonly children: ChildProcess[],
    readonly size: number,
  ) {}

  static async start(n: number, port: number, key: TsigKey): Promise<Fleet> {
    const procs = Math.max(1, Math.min(PROCS, Math.ceil(n / 100)));
    const children: ChildProcess[] = [];
    await Promise.all(
      Array.from({ length: procs }, (_, p) => {
        const hosts = Array.from({ length: n }, (_, i) => i).filter((i) => i % procs === p).map(agentIp);
        const child = fork(join(here, 'fleet-sim.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
        children.push(child);
        return new Promise<void>((resolve, reject) => {
          child.once('message', () => resolve());
          child.once('exit', (code) => reject(new Error(`fleet process exited ${code}`)));
          child.send({ cmd: 'start', hosts, port, origin: ORIGIN, key: { name: key.name, algorithm: key.algorithm, secret: key.secret.toString('base64') } });
        });
      }),
    );
    return new Fleet(children, n);
  }

  get processes(): number {
    return this.children.length;
  }

  async stats(): Promise<ChildStats[]> {
    return Promise.all(
      this.children.map(
        (c) =>
          new Promise<ChildStats>((resolve) => {
            const on = (m: unknown): void => {
              if ((m as { ev?: string }).ev !== 'stats') return;
              c.off('message', on);
              resolve(m as ChildStats);
            };
            c.on('message', on);
            c.send({ cmd: 'stats' });
          }),
      ),
    );
  }

  reset(): void {
    for (const c of this.children) c.send({ cmd: 'reset' });
  }

  /** Agents holding exactly `serial`. */
  async at(serial: number): Promise<number> {
    let n = 0;
    for (const s of await this.stats()) for (const [ser, k] of s.serials) if (ser === serial) n += k;
    return n;
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null) return resolve();
            c.once('exit', () => resolve());
            c.send({ cmd: 'stop' });
            setTimeout(() => c.kill('SIGKILL'), 5000).unref();
          }),
      ),
    );
  }
}

/** Samples the leader's send window every 20 ms until stopped: the most pulls and NOTIFYs outstanding at once. */
function sampleWindow(leader: Leader): () => { pulls: number; notifies: number; window: number; pull_slots: number } {
  const max = { pulls: 0, notifies: 0, window: 0, pull_slots: 0 };
  const t = setInterval(() => {
    try {
      const f = leader.pub().primary.fanout;
      max.pulls = Math.max(max.pulls, f.pulling);
      max.notifies = Math.max(max.notifies, f.inFlight);
      max.window = f.maxInFlight;
      max.pull_slots = f.maxPulls;
    } catch {
      // between terms
    }
  }, 20);
  return () => {
    clearInterval(t);
    return max;
  };
}

/** serial → when the last agent of the fleet first held it (or a later one); Infinity if not all did. */
function everywhere(stats: readonly ChildStats[], agents: number): Map<number, number> {
  const acc = new Map<number, { n: number; last: number }>();
  for (const s of stats) {
    for (const [serial, n, last] of s.reached) {
      const a = acc.get(serial);
      if (a) {
        a.n += n;
        a.last = Math.max(a.last, last);
      } else acc.set(serial, { n, last });
    }
  }
  if (process.env['BENCH_DEBUG']) for (const [s, a] of acc) if (a.n < agents) process.stderr.write(`serial ${s}: ${a.n}/${agents}\n`);
  return new Map([...acc].map(([s, a]) => [s, a.n >= agents ? a.last : Infinity]));
}

function fleetCpuMs(stats: readonly ChildStats[]): number {
  return stats.reduce((t, s) => t + (s.cpu.user + s.cpu.system) / 1000, 0);
}

function sum(stats: readonly ChildStats[], k: keyof ChildStats['counts']): number {
  return stats.reduce((t, s) => t + (s.counts[k] as number), 0);
}

async function syncCounters(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const name of ['dnssync_sync_notifies_sent_total', 'dnssync_sync_notifies_retried_total', 'dnssync_sync_notifies_acked_total', 'dnssync_sync_transfers_served_total']) {
    const m = registry.getSingleMetric(name);
    if (!m) continue;
    for (const v of (await m.get()).values) out[`${name.replace('dnssync_sync_', '').replace('_total', '')}${Object.keys(v.labels).length ? `{${Object.values(v.labels).join(',')}}` : ''}`] = v.value;
  }
  return out;
}

function counterDelta(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(b).map(([k, v]) => [k, v - (a[k] ?? 0)]).filter(([, v]) => v !== 0));
}

function zone(): ZoneObject {
  return { meta: { name: 'fleet', uid: 'fleet', resourceVersion: '1', generation: 1, created: 1 }, origin: ORIGIN, defaultTTL: 30, soa: DEFAULT_ZONE_SOA, selector: undefined, status: undefined };
}

function record(i: number, gen = 1, value = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`): RecordObject {
  return {
    meta: { name: `r${i}`, namespace: 'fleet', uid: `fleet-${i}`, resourceVersion: String(gen), generation: gen, created: 1 },
    owner: `host${i}.g${i % 97}.${ORIGIN}`,
    type: 'A',
    ttl: undefined,
    values: [value],
    status: undefined,
  };
}

interface Leader {
  ctl: Controller;
  pub: () => SyncPublisher;
  /** [serial, time published, flush]: the serials one flush commits (datagram-sized steps) share a flush number. */
  published: [number, number, number][];
  statusWrites: () => number;
}

/** The controller core with the Primary behind it, leading, with the zone and no agents yet. */
async function startLeader(port: number, agentSyncPort: number, streams: boolean): Promise<Leader> {
  let pub: SyncPublisher | undefined;
  const published: [number, number, number][] = [];
  let flush = 0;
  let open = false;
  const factory = syncPublisherFactory({ host: CTL_IP, port, keys: [TSIG_KEY], log: configureLogger('warn'), pushStreams: streams });
  let writes = 0;
  const ctl = new Controller({
    log: configureLogger('warn'),
    parse: recordRdata,
    publisher: async (agents, zones, term) => {
      pub = (await factory(agents, zones, term)) as SyncPublisher;
      pub.primary.on('serial', (o, serial) => {
        if (o !== ORIGIN) return;
        if (!open) {
          open = true;
          flush++;
          queueMicrotask(() => (open = false));
        }
        published.push([serial, now(), flush]);
      });
      return pub;
    },
    patchStatus: async () => {
      writes++;
    },
    isNotFound: () => false,
    emitEvent: () => undefined,
    agentSyncPort,
    statusQps: 100_000,
    statusBurst: 100_000,
  });
  ctl.zoneUpserted(zone(), undefined, performance.now());
  for (let i = 0; i < RECORDS; i++) ctl.recordUpserted(record(i), undefined, performance.now());
  return {
    ctl,
    pub: () => {
      if (!pub) throw new Error('not leading');
      return pub;
    },
    published,
    statusWrites: () => writes,
  };
}

let gen = 10;
/** One record changes value, as an informer would report an edited DNSRecord. */
function change(ctl: Controller, k: number): void {
  const i = k % RECORDS;
  gen++;
  ctl.recordUpserted(record(i, gen, `10.200.${(gen >> 8) & 255}.${gen & 255}`), record(i), performance.now());
}

/**
 * For each change made at `made[i]`: when every agent held it — the last serial of the first
 * flush after it was made (a flush may commit a burst as several datagram-sized serials).
 */
function visibleAt(made: readonly number[], published: readonly [number, number, number][], ev: Map<number, number>): number[] {
  let j = 0;
  return made.map((t) => {
    while (j < published.length && (published[j] as [number, number, number])[1] < t) j++;
    let k = j;
    while (k + 1 < published.length && (published[k + 1] as [number, number, number])[2] === (published[j] as [number, number, number])[2]) k++;
    const p = published[k];
    const v = p ? (ev.get(p[0]) ?? Infinity) : Infinity;
    if (v === Infinity && process.env['BENCH_DEBUG']) process.stderr.write(`change at ${t.toFixed(1)}: serial ${p?.[0]} published ${p?.[1].toFixed(1)} not everywhere\n`);
    return v;
  });
}

interface SizeResult {
  agents: number;
  push_streams: boolean;
  fleet_processes: number;
  load_avg: { start: number[]; end: number[] };
  cold_start: { ms: number; transfers: number; max_transfers_in_flight: number; fleet_max_pulls_at_once: number; window: object; leader_cpu_ms: number };
  leader_memory: { heap_mb: number; rss_mb: number; heap_bytes_per_agent: number; rss_bytes_per_agent: number };
  lone: { changes: number; spacing_ms: number; lag_ms: { p50: number; p99: number; max: number }; leader_cpu_ms_per_change: number };
  sustained: {
    seconds: number;
    offered_per_s: number;
    fed_per_s: number;
    serials: number;
    window_s: [number, number];
    delivered_per_s: number;
    lag_ms: { p50: number; p99: number; max: number };
    backlog_by_second: number[];
    drain_after_last_ms: number;
    leader_cpu_ms: number;
    leader_cpu_ms_per_change: number;
    leader_cpu_share: number;
    leader_cpu_user_ms: number;
    leader_cpu_system_ms: number;
    udp_receive_buffer_drops: number;
    load_avg: number[];
    fleet_cpu_ms: number;
    primary_counters: Record<string, number>;
    fleet: { notifies: number; streamed: number; diffs_applied: number; pulls: number; pull_failures: number };
  };
  restart: { ms: number; transfers: number; max_transfers_in_flight: number; fleet_max_pulls_at_once: number; window: object; pull_failures: number; leader_cpu_ms: number; pull_ms_p99: number };
  status_writes: number;
}

async function runSize(n: number, streams: boolean): Promise<SizeResult> {
  const loadStart = load();
  const port = await freePort(CTL_IP);
  const syncPort = await freePort('127.61.0.1');
  const leader = await startLeader(port, syncPort, streams);
  const { ctl } = leader;
  await ctl.startLeading();
  const mem0 = mem();
  const fleet = await Fleet.start(n, syncPort, TSIG_KEY);
  const allAt = async (what: string, timeoutMs: number): Promise<number> =>
    waitFor(async () => {
      const s = leader.pub().primary.zone(ORIGIN)?.serial as number;
      return (await fleet.at(s)) === n ? s : undefined;
    }, { what, timeoutMs, intervalMs: 100 });

  // Cold start: every agent appears at once with nothing, as a fresh DaemonSet does.
  const c0 = await syncCounters();
  const cpuCold = process.cpuUsage();
  const tCold = now();
  const coldWindow = sampleWindow(leader);
  for (let i = 0; i < n; i++) ctl.podUpserted({ meta: { name: `a${i}`, namespace: 'fleet', uid: `a${i}`, resourceVersion: '1', generation: 0, created: 0 }, podIP: agentIp(i), ready: true, deleting: false });
  const s0 = await allAt(`${n} agents hold the zone`, 600_000);
  let st = await fleet.stats();
  const coldMs = (everywhere(st, n).get(s0) ?? now()) - tCold;
  const cw = coldWindow();
  const cold = { ms: Math.round(coldMs), transfers: sum(st, 'pulls'), max_transfers_in_flight: cw.pulls, fleet_max_pulls_at_once: sum(st, 'maxInflight'), window: cw, leader_cpu_ms: Math.round(cpuMs(cpuCold)) };
  const records = st.map((s) => s.records);
  if (records.some((r) => r !== RECORDS)) throw new Error(`fleet record counts ${records.join(',')} after the cold start, want ${RECORDS}`);
  await ctl.statusIdle();
  const mem1 = mem();
  void c0;

  // Lone changes: one at a time, spaced so each meets a quiet leader.
  fleet.reset();
  const spacing = Math.max(50, Math.min(500, n / 10));
  const loneMade: number[] = [];
  const cpuLone = process.cpuUsage();
  for (let k = 0; k < LONE; k++) {
    loneMade.push(now());
    change(ctl, k);
    await new Promise((r) => setTimeout(r, spacing));
  }
  await waitFor(() => (leader.published[leader.published.length - 1]?.[1] ?? 0) >= (loneMade[loneMade.length - 1] as number), { what: 'the last lone change published', timeoutMs: 60_000, intervalMs: 5 });
  await allAt('every agent holds the last lone change', 60_000);
  const loneCpu = cpuMs(cpuLone);
  st = await fleet.stats();
  const loneLag = visibleAt(loneMade, leader.published, everywhere(st, n)).map((v, i) => v - (loneMade[i] as number));

  // Sustained feed.
  fleet.reset();
  const rate = rateFor(n);
  const total = rate * SECONDS;
  const made: number[] = [];
  const pubFrom = leader.published.length;
  const c1 = await syncCounters();
  const fleetCpu0 = fleetCpuMs(await fleet.stats());
  const cpu0 = process.cpuUsage();
  const drops0 = rcvbufErrors();
  const tStart = now();
  const dbg = process.env['BENCH_DEBUG']
    ? setInterval(() => {
        const p = leader.pub().primary;
        const f = p.fanout;
        const t = Math.round(now() - tStart);
        process.stderr.write(`t=${t} serial=${p.zone(ORIGIN)?.serial} inflight=${f.inFlight} pulling=${f.pulling} queued=${f.queued} rto=${f.retryMs} made=${made.length}\n`);
        void fleet.stats().then((st) => process.stderr.write(`t=${t} fleet: ${JSON.stringify(st.map((x) => ({ serials: x.serials, c: { ...x.counts, pullMs: x.counts.pullMs.length } })))}\n`));
      }, 100)
    : undefined;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const due = Math.min(total, Math.floor(((now() - tStart) / 1000) * rate) + 1);
      while (made.length < due) {
        made.push(now());
        change(ctl, LONE + made.length);
      }
      if (made.length < total) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  const tSent = now();
  const feedCpuSplit = process.cpuUsage(cpu0);
  const feedCpu = cpuMs(cpu0);
  const feedCounters = counterDelta(c1, await syncCounters());
  const fleetCpu = fleetCpuMs(await fleet.stats()) - fleetCpu0;
  await waitFor(() => (leader.published[leader.published.length - 1]?.[1] ?? 0) >= (made[made.length - 1] as number), { what: 'the last change of the feed published', timeoutMs: 60_000, intervalMs: 5 });
  await allAt('every agent holds the last change of the feed', 300_000);
  clearInterval(dbg);
  const feedDrops = rcvbufErrors() - drops0;
  const feedLoad = load();
  st = await fleet.stats();
  const feedFleet = { notifies: sum(st, 'notifies'), streamed: sum(st, 'streamed'), diffs_applied: sum(st, 'diffs'), pulls: sum(st, 'pulls'), pull_failures: sum(st, 'pullFailures') };
  const published = leader.published.slice(pubFrom);
  const visible = visibleAt(made, published, everywhere(st, n));
  const w0 = tStart + WARMUP_S * 1000;
  const inWindow = made.map((t, i) => [t, visible[i] as number] as const).filter(([t]) => t >= w0);
  const lags = inWindow.map(([t, v]) => v - t);
  const lastDelivered = Math.max(...inWindow.map(([, v]) => v));
  // The changes made in the window, delivered over the window plus however long the last of
  // them took to reach every agent: no change made before the window counts.
  const deliveredPerS = inWindow.length / ((lastDelivered - w0) / 1000);
  const backlog: number[] = [];
  for (let t = tStart + 1000; t <= tSent + 1; t += 1000) backlog.push(made.filter((m, i) => m <= t && (visible[i] as number) > t).length);

  // Restart: this leader's term ends and a new one begins (a failover looks the same to the
  // agents: a new Primary that asks their serials, then pushes a zone with a newer serial
  // and no journal behind it, so every agent pulls).
  await ctl.stopLeading();
  fleet.reset();
  const pulls0 = 0;
  const fails0 = 0;
  const cpuR = process.cpuUsage();
  const tR = now();
  const rWindow = sampleWindow(leader);
  await ctl.startLeading();
  const sR = await allAt('every agent resynced after the restart', 600_000);
  st = await fleet.stats();
  const rw = rWindow();
  const restart = {
    ms: Math.round((everywhere(st, n).get(sR) ?? now()) - tR),
    transfers: sum(st, 'pulls') - pulls0,
    max_transfers_in_flight: rw.pulls,
    fleet_max_pulls_at_once: sum(st, 'maxInflight'),
    window: rw,
    pull_failures: sum(st, 'pullFailures') - fails0,
    leader_cpu_ms: Math.round(cpuMs(cpuR)),
    pull_ms_p99: pct(st.flatMap((s) => s.counts.pullMs), 0.99),
  };
  if (st.some((s) => s.records !== RECORDS)) throw new Error(`fleet record counts ${st.map((s) => s.records).join(',')} after the restart, want ${RECORDS}`);

  const statusWrites = leader.statusWrites();
  await ctl.close();
  await fleet.stop();
  return {
    agents: n,
    push_streams: streams,
    fleet_processes: fleet.processes,
    load_avg: { start: loadStart, end: load() },
    cold_start: cold,
    leader_memory: {
      heap_mb: round(mem1.heap / 2 ** 20),
      rss_mb: round(mem1.rss / 2 ** 20),
      heap_bytes_per_agent: Math.round((mem1.heap - mem0.heap) / n),
      rss_bytes_per_agent: Math.round((mem1.rss - mem0.rss) / n),
    },
    lone: { changes: LONE, spacing_ms: spacing, lag_ms: { p50: pct(loneLag, 0.5), p99: pct(loneLag, 0.99), max: round(Math.max(...loneLag), 2) }, leader_cpu_ms_per_change: round(loneCpu / LONE, 2) },
    sustained: {
      seconds: SECONDS,
      offered_per_s: rate,
      fed_per_s: Math.round(total / ((tSent - tStart) / 1000)),
      serials: published.length,
      window_s: [WARMUP_S, round((tSent - tStart) / 1000, 2)],
      delivered_per_s: Math.round(deliveredPerS),
      lag_ms: { p50: pct(lags, 0.5), p99: pct(lags, 0.99), max: round(Math.max(...lags), 2) },
      backlog_by_second: backlog,
      drain_after_last_ms: Math.round((visible[visible.length - 1] as number) - (made[made.length - 1] as number)),
      leader_cpu_ms: Math.round(feedCpu),
      leader_cpu_ms_per_change: round(feedCpu / total, 3),
      leader_cpu_share: round(feedCpu / (tSent - tStart), 2),
      // System time includes the kernel's loopback delivery of every datagram into the
      // receiving agent's socket, which a real NIC would not bill to the sender.
      leader_cpu_user_ms: Math.round(feedCpuSplit.user / 1000),
      leader_cpu_system_ms: Math.round(feedCpuSplit.system / 1000),
      udp_receive_buffer_drops: feedDrops,
      load_avg: feedLoad,
      fleet_cpu_ms: Math.round(fleetCpu),
      primary_counters: feedCounters,
      fleet: feedFleet,
    },
    restart,
    status_writes: statusWrites,
  };
}

async function main(): Promise<void> {
  configureLogger('warn');
  const results: SizeResult[] = [];
  const baseline: SizeResult[] = [];
  for (const n of SIZES) {
    // BENCH_FLEET_STREAMS=0: the default configuration only (datagrams, streams off).
    for (const streams of process.env['BENCH_FLEET_STREAMS'] === '0' ? [false] : BASELINE ? [true, false] : [true]) {
      process.stderr.write(`[fleet] ${n} agents, ${streams ? 'push streams' : 'datagrams only'}…\n`);
      const r = await runSize(n, streams);
      (streams ? results : baseline).push(r);
      process.stderr.write(`${JSON.stringify(r)}\n`);
    }
  }
  const out = {
    bench: 'fleet',
    date: new Date().toISOString(),
    records: RECORDS,
    machine: { cores: 2, note: 'shared by eight engineers; the fleet runs on the same cores as the leader' },
    results,
    baseline_datagrams_only: baseline,
  };
  const dir = join(here, '..', '..', '..', 'test', 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'fleet.json'), JSON.stringify(out, null, 2) + '\n');
  writeFileSync(join(dir, 'fleet.svg'), fleetSvg(results, baseline));
  console.log('| agents | offered/s | delivered/s | lag p50 / p99 / max ms | lone change p50 / p99 ms | leader CPU ms/change (share of a core) | leader heap B/agent | cold start ms (max transfers at once) | restart resync ms (max at once) | load avg |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of [...results, ...baseline].sort((a, b) => a.agents - b.agents || Number(b.push_streams) - Number(a.push_streams))) {
    const s = r.sustained;
    console.log(
      `| ${r.agents.toLocaleString('en')}${r.push_streams ? '' : ' (datagrams only)'} | ${s.offered_per_s} | ${s.delivered_per_s} | ${s.lag_ms.p50} / ${s.lag_ms.p99} / ${s.lag_ms.max} | ${r.lone.lag_ms.p50} / ${r.lone.lag_ms.p99} | ${s.leader_cpu_ms_per_change} (${s.leader_cpu_share}) | ${r.leader_memory.heap_bytes_per_agent} | ${r.cold_start.ms} (${r.cold_start.max_transfers_in_flight}) | ${r.restart.ms} (${r.restart.max_transfers_in_flight}) | ${r.load_avg.end[0]} |`,
    );
  }
  console.log(`\nwritten to ${join(dir, 'fleet.json')} and fleet.svg`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
