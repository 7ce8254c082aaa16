/**
 * Benchmark 1 (DESIGN.md): propagation from the API write to every agent answering the new
 * data, p50/p99/max for 1, 10 and 100 agents, beside the floor — the time a bare watch in
 * this process takes to see the same write — measured on the same writes in the same run.
 * Then a sustained burst: changes per second delivered to every agent at 100 agents.
 *
 * The controller is the real CLI (a process); agents run in this process on 127.0.51.x, each
 * with a Pod object. "Answering" is checked on each agent's zone store the moment a sync
 * update lands (the same snapshot its DNS server answers from), plus a kdig per agent at the
 * end. Runs ~2-3 minutes on two cores.
 *
 *   node dist/test/bench/propagation.js   → table + test/bench/results/propagation.json
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fork } from 'node:child_process';
import { loadavg } from 'node:os';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { loadKubeConfig } from '../../src/k8s/kubeconfig.js';
import { startControlPlane } from '../controlplane/controlplane.js';
import { createAgentPod, ensureNamespace, httpGet, kdig, startAgents, startController, tempDir, writeKeyFile, type TestAgent } from '../controller/harness.js';
import { waitFor } from '../util/wait.js';
import { epochMs, type FloorMessage } from './watch-floor.js';

const ZONE = 'bench.test';
const SIZES = (process.env['BENCH_AGENTS'] ?? '1,10,100').split(',').map(Number);
const CHANGES = Number(process.env['BENCH_CHANGES'] ?? 100);
const BURST_RATE = Number(process.env['BENCH_RATE'] ?? 1000);
const BURST_SECONDS = Number(process.env['BENCH_BURST_SECONDS'] ?? 1);
const G = { group: 'dnssync.io', version: 'v1alpha1', plural: 'dnsrecords' };

interface Stats {
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] ?? NaN;
  return { p50: q(0.5), p99: q(0.99), max: s[s.length - 1] ?? NaN, mean: s.reduce((a, b) => a + b, 0) / s.length };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

/** Resolves per record name when every agent's store answers it. */
class AgentWatcher {
  private readonly pending = new Map<string, { left: Set<number>; resolve: (t: number) => void }>();

  constructor(private readonly agents: readonly TestAgent[]) {
    agents.forEach((a, i) => {
      a.store.onChange((change) => {
        if (change.kind !== 'set' || change.origin !== ZONE || this.pending.size === 0) return;
        for (const [name, p] of this.pending) {
          if (!p.left.has(i)) continue;
          if (change.snapshot.lookup(name, 'A').kind === 'answer') {
            p.left.delete(i);
            if (p.left.size === 0) {
              this.pending.delete(name);
              p.resolve(epochMs());
            }
          }
        }
      });
    });
  }

  expect(name: string): Promise<number> {
    return new Promise((resolve) => this.pending.set(name, { left: new Set(this.agents.map((_, i) => i)), resolve }));
  }
}

/**
 * The floor: a bare watch on the same collection, in its own process (watch-floor.ts), timing
 * when each object shows up. Resolves to epoch ms.
 */
async function bareWatch(kubeconfig: string, ns: string): Promise<{ expect(name: string): Promise<number>; stop(): void }> {
  const waiting = new Map<string, (t: number) => void>();
  const seen = new Map<string, number>();
  const child = fork(join(dirname(fileURLToPath(import.meta.url)), 'watch-floor.js'), [kubeconfig, ns], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`floor watcher exited (${code}) before its watch opened`)));
    child.on('message', (m: FloorMessage) => {
      if ('ready' in m) {
        resolve();
        return;
      }
      const r = waiting.get(m.name);
      if (r) {
        waiting.delete(m.name);
        r(m.t);
      } else seen.set(m.name, m.t);
    });
  });
  return {
    expect: (name) => {
      const t = seen.get(name);
      if (t !== undefined) return Promise.resolve(t);
      return new Promise((resolve) => waiting.set(name, resolve));
    },
    stop: () => {
      child.removeAllListeners('exit');
      child.kill();
    },
  };
}

async function main(): Promise<void> {
  const load0 = loadavg().map((x) => Math.round(x * 10) / 10);
  const cp = await startControlPlane();
  const kc = cp.kubeConfig();
  // The writer pools its connections like the controller: a plain KubeConfig pays a TLS
  // handshake per create and capped the burst near 160 writes/s on two cores.
  const api = loadKubeConfig(cp.kubeconfig).makeApiClient(CustomObjectsApi);
  const dir = await tempDir('bench-prop');
  const keyFile = await writeKeyFile(dir);
  await api.createClusterCustomObject({ group: 'dnssync.io', version: 'v1alpha1', plural: 'dnszones', body: { apiVersion: 'dnssync.io/v1alpha1', kind: 'DNSZone', metadata: { name: 'bench' }, spec: { zone: ZONE } } });
  const rows: Array<Record<string, unknown>> = [];
  try {
    for (const n of SIZES) {
      const ns = `bench-${n}`;
      await ensureNamespace(kc, ns);
      const { agents, syncPort } = await startAgents(n, (i) => `127.0.51.${i + 1}`);
      await Promise.all(agents.map((a, i) => createAgentPod(kc, ns, `agent-${i}`, a.ip, true)));
      const ctl = await startController({ dir, name: `ctl-${n}`, kubeconfig: cp.kubeconfig, ip: '127.0.51.200', agentNs: ns, syncPort, keyFile, extra: ['--log-level', process.env['BENCH_CTL_LOG'] ?? 'warn'] });
      try {
        await waitFor(() => agents.every((a) => a.store.get(ZONE) !== undefined), { what: `${n} agents hold the zone`, timeoutMs: 60_000 });
        const watcher = new AgentWatcher(agents);
        const floorWatch = await bareWatch(cp.kubeconfig, ns);
        const floor: number[] = [];
        const prop: number[] = [];
        const over: number[] = [];
        for (let i = -5; i < CHANGES; i++) {
          const name = `r${i + 5}`;
          const fqdn = `${name}.n${n}.${ZONE}`;
          const t0 = epochMs();
          const seenAll = watcher.expect(fqdn);
          const seenWatch = floorWatch.expect(name);
          await api.createNamespacedCustomObject({ ...G, namespace: ns, body: { apiVersion: 'dnssync.io/v1alpha1', kind: 'DNSRecord', metadata: { name }, spec: { name: fqdn, type: 'A', values: ['10.0.0.1'] } } });
          const [tw, ta] = await Promise.all([seenWatch, seenAll]);
          if (i >= 0) {
            floor.push(tw - t0);
            prop.push(ta - t0);
            // Per write: how much later than the bare watch every agent had it.
            over.push(ta - tw);
          }
        }
        floorWatch.stop();
        // Spot-check with real queries: every agent answers the last record over DNS.
        const last = `r${CHANGES + 4}.n${n}.${ZONE}`;
        for (const a of agents) if ((await kdig(a.ip, a.dnsPort, last, 'A')).join() !== '10.0.0.1') throw new Error(`${a.name} does not answer ${last}`);

        // The controller's own view: watch event → every agent acknowledged (its histogram).
        const before = await httpGet(ctl.metrics, '/metrics');
        const hsum = Number(/^dnssync_propagation_seconds_sum (\S+)/m.exec(before.body)?.[1] ?? NaN);
        const hcount = Number(/^dnssync_propagation_seconds_count (\S+)/m.exec(before.body)?.[1] ?? NaN);
        const controllerMeanMs = (hsum / hcount) * 1000;

        // Sustained burst: BURST_RATE creates per second for BURST_SECONDS, 64 in flight at most.
        const base = agents.map((a) => a.store.get(ZONE)?.size ?? 0);
        const total = Math.round(BURST_RATE * BURST_SECONDS);
        const start = performance.now();
        let issued = 0;
        let inflight = 0;
        let accepted = 0;
        await new Promise<void>((resolve, reject) => {
          const tick = (): void => {
            const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * BURST_RATE) + 1);
            while (issued < due && inflight < 64) {
              const k = issued++;
              inflight++;
              api
                .createNamespacedCustomObject({ ...G, namespace: ns, body: { apiVersion: 'dnssync.io/v1alpha1', kind: 'DNSRecord', metadata: { name: `b${k}` }, spec: { name: `b${k}.n${n}.${ZONE}`, type: 'A', values: ['10.0.0.2'] } } })
                .then(() => {
                  inflight--;
                  accepted++;
                  if (accepted === total) resolve();
                }, reject);
            }
            if (issued < total) setTimeout(tick, 1);
          };
          tick();
        });
        const written = performance.now();
        await waitFor(() => agents.every((a, i) => (a.store.get(ZONE)?.size ?? 0) >= (base[i] ?? 0) + total), { what: 'burst everywhere', timeoutMs: 120_000, intervalMs: 5 });
        const delivered = performance.now();
        const m = await httpGet(ctl.metrics, '/metrics');
        const writes = [...m.body.matchAll(/^dnssync_status_writes_total\{[^}]*result="ok"\} (\d+)/gm)].reduce((s, x) => s + Number(x[1]), 0);
        const f = stats(floor);
        const p = stats(prop);
        const o = stats(over);
        rows.push({
          agents: n,
          changes: CHANGES,
          floor_ms: { p50: round(f.p50), p99: round(f.p99), max: round(f.max) },
          propagation_ms: { p50: round(p.p50), p99: round(p.p99), max: round(p.max) },
          // Per-sample differences (propagation - floor of the same write), then their stats.
          over_floor_ms: { p50: round(o.p50), p99: round(o.p99), max: round(o.max) },
          controller_event_to_all_acked_mean_ms: round(controllerMeanMs),
          burst: { changes: total, api_writes_per_s: Math.round(total / ((written - start) / 1000)), delivered_per_s: Math.round(total / ((delivered - start) / 1000)), drain_after_last_write_ms: Math.round(delivered - written) },
          status_writes: writes,
          // The controller process over the whole size step (start, initial sync, changes, burst).
          controller_cpu_s: round(Number(/^dnssync_process_process_cpu_seconds_total (\S+)/m.exec(m.body)?.[1] ?? NaN)),
          controller_api_connections: Number(/^dnssync_k8s_api_connections_total (\S+)/m.exec(m.body)?.[1] ?? NaN),
        });
        console.log(`[bench] ${n} agents: floor p99 ${round(f.p99)} ms, propagation p50 ${round(p.p50)} p99 ${round(p.p99)} max ${round(p.max)} ms; burst ${total} changes delivered at ${Math.round(total / ((delivered - start) / 1000))}/s`);
      } finally {
        await ctl.proc.stop();
        for (const a of agents) await a.stop();
      }
    }
  } finally {
    await cp.stop();
  }
  const out = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'bench', 'results', 'propagation.json');
  mkdirSync(dirname(out), { recursive: true });
  const load = { start: load0, end: loadavg().map((x) => Math.round(x * 10) / 10) };
  writeFileSync(out, JSON.stringify({ bench: 'propagation', date: new Date().toISOString(), cpus: 2, loadavg: load, floor: 'a bare watch in its own process (watch-floor.ts); over_floor_ms = per write, every agent holding it minus the watch seeing it', rows }, null, 2) + '\n');
  console.log(`\nload average (1/5/15 min) at start ${load.start.join(' ')}, end ${load.end.join(' ')}`);
  console.log('\nagents | floor p50/p99/max ms | propagation p50/p99/max ms | over floor per write p50/p99/max ms | controller: event → all acked, mean ms | burst: API writes/s, delivered/s, drain ms | status writes | controller CPU s, API connections');
  for (const r of rows) {
    const f = r['floor_ms'] as Stats;
    const p = r['propagation_ms'] as Stats;
    const b = r['burst'] as Record<string, number>;
    const o = r['over_floor_ms'] as Stats;
    console.log(`${r['agents']} | ${f.p50} / ${f.p99} / ${f.max} | ${p.p50} / ${p.p99} / ${p.max} | ${o.p50} / ${o.p99} / ${o.max} | ${r['controller_event_to_all_acked_mean_ms']} | ${b['api_writes_per_s']}, ${b['delivered_per_s']}, ${b['drain_after_last_write_ms']} | ${r['status_writes']} | ${r['controller_cpu_s']}, ${r['controller_api_connections']}`);
  }
  console.log(`\nwritten to ${out}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
