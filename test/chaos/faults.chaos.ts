/**
 * `make chaos` (issue #12): each fault injected during a burst of record changes, then
 * stopped; then every agent's answers are compared record by record with the API objects
 * (compare.ts, against the independent oracle) until they match, and for 2 s after (nothing
 * may move an agent off the API's data once it got there). Each fault reports the records
 * compared, the divergences (must be 0) and the time to converge; the suite writes
 * test/chaos/results/chaos.json and prints the table.
 *
 * One system for all faults, in order (cluster.ts): two leader-elected controllers, three
 * agents with state directories, each behind NAT (path.ts). The faults leave it whole: a
 * killed process is restarted, a network knob is turned back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { repoRoot } from '../controlplane/assets.js';
import { TSIG_KEY, httpGet } from '../controller/harness.js';
import { waitFor } from '../util/wait.js';
import { Cluster, APP_NS, NET, ZONES, type ChaosController } from './cluster.js';
import { frameAll } from '../../src/dns/framing.js';
import { encode } from '../../src/sync/codec.js';
import { ask, pairKey, type SweepResult } from './compare.js';
import { Workload, type BurstHandle } from './workload.js';
import { load, table, totals, write, type FaultResult, type Report } from './report.js';

const RESULTS = join(repoRoot, 'test', 'chaos', 'results', 'chaos.json');
const BURST = 100;
/** After a fault stops, how long agents may take to equal the API before it counts against them. */
const CONVERGE_DEADLINE_MS = 60_000;
/** Once equal, how long they are watched to stay equal. */
const STABLE_MS = 2_000;
/** How long statuses may take to say what the agents show before the fault's row says "not settled". */
const STATUS_DEADLINE_MS = 10_000;

/**
 * Issue #12 item 4 (a zone deleted while no leader runs is dropped; a zone not confirmed for
 * its SOA expire answers SERVFAIL) needs agents that learn their zones from the leader's
 * catalog: the case runs once that code is in the tree. Tried against the branch carrying it
 * (faults-a at a23bc96): passed, converged 10.9 s after the controllers came back, SERVFAIL
 * 3.3 s after they stopped (expire 4 s).
 */
const FAULT_4_ENABLED = existsSync(join(repoRoot, 'src', 'sync', 'catalog.ts'));

const cluster = new Cluster();
let work: Workload;
const results: FaultResult[] = [];
const started = Date.now();
const loadStart = load();

beforeAll(async () => {
  await cluster.start();
  work = new Workload(cluster.kc, APP_NS, ZONES, 12);
  // A fat answer (about 1 kB) for the exhaustion fault's never-reading client to ask for.
  await work.create('fat', `fat.${ZONES[0]}.`, 'TXT', Array.from({ length: 4 }, (_, i) => String(i).repeat(240)));
  const first = await converge();
  if (first.convergeMs === null) throw new Error(`initial sync never matched the API: ${JSON.stringify(first.last.divergences.slice(0, 3))}`);
}, 240_000);

afterAll(async () => {
  const report: Report = {
    date: new Date().toISOString(),
    command: 'make chaos',
    durationMs: Date.now() - started,
    loadavg: { start: loadStart, end: load() },
    setup: `private kube-apiserver+etcd; 2 controllers (lease 3s, renew 2s, retry 500ms, heartbeat default); 3 agent processes with --state-dir, each behind NAT; zones ${ZONES.join(', ')} (SOA refresh 2, retry 1); ${BURST} changes per burst, 4 writers`,
    totals: totals(results),
    faults: results,
  };
  if (results.length > 0) {
    write(RESULTS, report);
    console.log(`\n${table(report)}\n(written to ${RESULTS})`);
  }
  await cluster.stop();
}, 120_000);

/** Polls until every agent equals the API, then watches it stay so for STABLE_MS. */
async function converge(): Promise<{ convergeMs: number | null; last: SweepResult; sweeps: number }> {
  const t0 = performance.now();
  let last: SweepResult | undefined;
  let sweeps = 0;
  const check = async (): Promise<SweepResult> => {
    sweeps++;
    last = await cluster.check(work.universe, work.zonesEver);
    return last;
  };
  try {
    await waitFor(async () => (await check()).differing === 0, { what: 'every agent equal to the API', timeoutMs: CONVERGE_DEADLINE_MS, intervalMs: 200 });
  } catch {
    return { convergeMs: null, last: last ?? (await check()), sweeps };
  }
  const convergeMs = performance.now() - t0;
  const until = Date.now() + STABLE_MS;
  while (Date.now() < until) {
    await new Promise((r) => setTimeout(r, 200));
    const r = await check();
    if (r.differing > 0) return { convergeMs, last: r, sweeps };
  }
  return { convergeMs, last: last as SweepResult, sweeps };
}

/**
 * Runs one fault: a burst of BURST changes with `inject` beside it (it gets the burst's
 * progress, and returns once the fault is stopped), then the comparison until convergence.
 */
async function runFault(fault: string, item: string, inject: (b: BurstHandle) => Promise<Record<string, number | string> | void>): Promise<FaultResult> {
  await cluster.reviveControllers();
  const before = work.changes;
  const b = work.burst(BURST);
  const [notes] = await Promise.all([inject(b), b.done]);
  const c = await converge();
  const st = c.convergeMs === null ? { ms: null, stale: [] as string[] } : await statusesSettle();
  const r: FaultResult = {
    fault,
    item,
    changes: work.changes - before,
    convergeMs: c.convergeMs === null ? null : Math.round(c.convergeMs),
    recordsCompared: c.last.recordsCompared,
    absentChecked: c.last.absentChecked,
    zonesChecked: c.last.zonesChecked,
    divergences: c.last.differing,
    sample: c.last.divergences.slice(0, 5),
    statusMs: st.ms === null ? null : Math.round(st.ms),
    statusStale: st.stale.length,
    notes: { sweeps: c.sweeps, ...(st.stale.length > 0 ? { staleStatuses: st.stale.slice(0, 5).join('; ') } : {}), ...(notes ?? {}) },
  };
  if (r.divergences > 0) console.log(`[chaos] ${fault} diverged; state:\n${await diagnose()}`);
  results.push(r);
  console.log(`[chaos] ${fault}: ${r.recordsCompared} records compared, ${r.divergences} divergences, converged in ${r.convergeMs ?? 'never'} ms`);
  return r;
}

interface ApiRecordStatus {
  metadata: { name: string; generation?: number; creationTimestamp?: string };
  spec: { name: string; type: string; values: string[] };
  status?: { observedGeneration?: number; nodes?: string; conditions?: { type: string; status: string; reason: string }[] };
}

/** Records whose status does not (yet) say what the agents show: every one accepted is Ready on 3/3, at its generation. */
async function staleStatuses(): Promise<string[]> {
  const api = cluster.kc.makeApiClient(CustomObjectsApi);
  const list = (await api.listNamespacedCustomObject({ group: 'dnssync.io', version: 'v1alpha1', plural: 'dnsrecords', namespace: APP_NS })) as { items: ApiRecordStatus[] };
  const stale: string[] = [];
  for (const o of list.items) {
    const cond = (t: string): { status: string; reason: string } | undefined => o.status?.conditions?.find((c) => c.type === t);
    const accepted = cond('Accepted');
    const ready = cond('Ready');
    const ok = o.status?.observedGeneration === o.metadata.generation && accepted !== undefined && (accepted.status === 'True' ? ready?.status === 'True' && o.status?.nodes === `${cluster.agents.length}/${cluster.agents.length}` : ready?.status === 'False');
    if (!ok) stale.push(`${o.metadata.name} (${o.spec.name} ${o.spec.type} ${JSON.stringify(o.spec.values).slice(0, 80)}, created ${o.metadata.creationTimestamp}): gen ${o.metadata.generation} observed ${o.status?.observedGeneration} Accepted=${accepted?.status} Ready=${ready?.status} nodes ${o.status?.nodes}`);
  }
  return stale;
}

/**
 * Once the agents equal the API, how long until every status says so (10 s deadline).
 * Reported, not asserted: on a loaded machine the leader's Lease calls time out and
 * leadership changes hands every few seconds; and a few records at a time have stayed
 * Propagating 0/3 for minutes while every agent served them (README, "Chaos").
 */
async function statusesSettle(): Promise<{ ms: number | null; stale: string[] }> {
  const t0 = performance.now();
  let stale: string[] = [];
  try {
    await waitFor(async () => (stale = await staleStatuses()).length === 0, { what: 'every status settled', timeoutMs: STATUS_DEADLINE_MS, intervalMs: 250 });
    return { ms: performance.now() - t0, stale: [] };
  } catch {
    return { ms: null, stale };
  }
}

/** What each agent and controller believes, for the report of a divergence. */
async function diagnose(): Promise<string> {
  const lines: string[] = [];
  for (const a of cluster.agents) {
    const soas = await ask(a.ip, a.dns, ZONES.map((z) => ({ name: z, type: 'SOA' }))).catch(() => []);
    const serials = soas.map((x) => x.rrs.find((rr) => rr.type === 'SOA')?.data as { serial?: number } | undefined).map((d) => d?.serial);
    const m = await httpGet(`${a.ip}:${a.metrics}`, '/metrics').catch(() => ({ body: '' }));
    const term = m.body.split('\n').filter((l) => /^dnssync_[a-z_]*(term|fenc|refused)[a-z_]*[ {]/.test(l)).join('; ');
    lines.push(`${a.name}: serials ${JSON.stringify(serials)} ${term}`);
  }
  for (const c of cluster.controllers) {
    const m = await httpGet(c.ctl.metrics, '/metrics').catch(() => ({ body: '' }));
    const keep = m.body.split('\n').filter((l) => /^dnssync_(leader|zone_serial|agents)[ {]/.test(l) || /^dnssync_[a-z_]*term/.test(l));
    lines.push(`${c.name} (running ${c.ctl.proc.running}): ${keep.join('; ')}`);
  }
  return lines.join('\n');
}

function expectNoDivergence(r: FaultResult): void {
  expect(r.divergences, `${r.fault}: ${JSON.stringify(r.sample, null, 1)}`).toBe(0);
  expect(r.convergeMs).not.toBeNull();
}

describe('chaos: every agent equals the API after each fault', () => {
  it('no fault (the baseline burst)', async () => {
    expectNoDivergence(await runFault('none (baseline)', '-', async () => undefined));
  });

  it('agent SIGKILLed mid-burst and restarted in place (same address, state kept)', async () => {
    const a = cluster.agents[1];
    if (!a) throw new Error('no agent-1');
    const r = await runFault('agent SIGKILL + restart in place', '#12.1', async (b) => {
      await b.reached(BURST * 0.3);
      cluster.killAgent(a);
      await b.reached(BURST * 0.7);
      await cluster.restartAgent(a);
      await cluster.agentUp(a);
    });
    expectNoDivergence(r);
  });

  it('agent SIGKILLed mid-burst and restarted with its state lost (wiped emptyDir)', async () => {
    const a = cluster.agents[2];
    if (!a) throw new Error('no agent-2');
    const r = await runFault('agent SIGKILL + restart, state lost', '#12.1', async (b) => {
      await b.reached(BURST * 0.3);
      cluster.killAgent(a);
      await b.reached(BURST * 0.7);
      await cluster.restartAgent(a, true);
      await cluster.agentUp(a);
    });
    expectNoDivergence(r);
  });

  it('NAT between controllers and agents, its flows flushed and moved to another address every 10 changes', async () => {
    const r = await runFault('NAT, flows flushed every 10 changes', '#12.2', async (b) => {
      // Changes too large for one NOTIFY: agents must pull, from the endpoint the NOTIFY names.
      for (let i = 0; i < 3; i++) await work.create(`nat-big-${i}`, `natbig${i}.${ZONES[i % 2]}.`, 'TXT', Array.from({ length: 3 }, (_, k) => `${k}${'n'.repeat(900)}`));
      for (let k = 10; k < BURST; k += 10) {
        await b.reached(k);
        for (const a of cluster.agents) a.path.rebind();
      }
      return { rebinds: cluster.agents.reduce((n, a) => n + a.path.stats.rebinds, 0) };
    });
    expectNoDivergence(r);
  });

  it('two leaders: the leader SIGSTOPped past its lease, a new one takes over, the old one SIGCONTed', async () => {
    const r = await runFault('two leaders (SIGSTOP past the lease, SIGCONT)', '#12.3', async (b) => {
      await b.reached(BURST * 0.2);
      const old = await cluster.leader();
      old.ctl.proc.killGroupSync('SIGSTOP');
      const t0 = Date.now();
      let next: ChaosController;
      try {
        next = await cluster.leader(old);
        await b.reached(BURST * 0.8);
      } finally {
        old.ctl.proc.killGroupSync('SIGCONT');
      }
      // The old one, awake, must find it was deposed and step down (its pushes fenced meanwhile).
      await waitFor(async () => !(await cluster.isLeader(old)), { what: 'the old leader steps down', timeoutMs: 20_000, intervalMs: 100 });
      return { takeoverMs: Date.now() - t0, newLeader: next.name };
    });
    expectNoDivergence(r);
  });

  it('a hostile peer on the path: unsigned error replies to every NOTIFY, replayed and forged NOTIFYs', async () => {
    const evil = ZONES.map((z) => `evil.${z}`);
    for (const e of evil) work.universe.add(pairKey(e, 'A'));
    const r = await runFault('hostile peer (forged errors, replays, forgeries)', '#12.5', async (b) => {
      for (const a of cluster.agents) a.path.hostile = true;
      await b.reached(BURST * 0.9);
      await b.done;
      // Replayed after the burst: every NOTIFY of it, stale ones after newer ones.
      for (const a of cluster.agents) ZONES.forEach((z, i) => a.path.attack(z, evil[i] as string, TSIG_KEY));
      for (const a of cluster.agents) a.path.hostile = false;
      const s = cluster.agents.map((a) => a.path.stats);
      return { forgedErrors: s.reduce((n, x) => n + x.forgedErrors, 0), replayed: s.reduce((n, x) => n + x.replayed, 0), forged: s.reduce((n, x) => n + x.forged, 0) };
    });
    expectNoDivergence(r);
  });

  it('resource exhaustion: a never-reading TCP client pipelining queries, and idle connections past the per-client cap', async () => {
    const held: Socket[] = [];
    const rss: number[] = [];
    const r = await runFault('exhaustion (never-reading TCP client)', '#12.6', async (b) => {
      const q = encode({ type: 'query', id: 7, flags: 0, questions: [{ name: `fat.${ZONES[0]}`, type: 'TXT', class: 'IN' }] });
      const flood = frameAll(Array.from({ length: 100_000 }, () => q));
      const before = cluster.agents.map((a) => cluster.agentRssKb(a));
      for (const a of cluster.agents) {
        const s = connect({ host: a.ip, port: a.dns, localAddress: `${NET}.250` });
        s.pause();
        s.on('error', () => undefined);
        held.push(s);
        s.once('connect', () => s.write(flood));
        for (let i = 0; i < 120; i++) {
          const idle = connect({ host: a.ip, port: a.dns, localAddress: `${NET}.251` });
          idle.on('error', () => undefined);
          held.push(idle);
        }
      }
      await b.done;
      const after = cluster.agents.map((a) => cluster.agentRssKb(a));
      after.forEach((x, i) => rss.push(x - (before[i] ?? 0)));
      for (const s of held) s.destroy();
      return { maxRssGrowthKb: Math.max(...rss) };
    });
    expectNoDivergence(r);
  });

  it('an RRset too large: refused (RRsetTooLarge), never served partially, the rest unaffected', async () => {
    const owner = `huge.${ZONES[0]}`;
    const r = await runFault('RRset too large (50 x 100 A at one name)', '#12.7', async (b) => {
      await b.reached(BURST * 0.2);
      for (let i = 0; i < 50; i++) {
        const values = Array.from({ length: 100 }, (_, k) => `10.${200 + (i >> 4)}.${((i & 15) << 4) | (k >> 4)}.${k & 15}`);
        await work.create(`huge-${String(i).padStart(2, '0')}`, `${owner}.`, 'A', values);
      }
    });
    expectNoDivergence(r);
    // What the agents serve is the oracle's 4,000; the younger 10 records say why they are not.
    const api = cluster.kc.makeApiClient(CustomObjectsApi);
    await waitFor(
      async () => {
        const list = (await api.listNamespacedCustomObject({ group: 'dnssync.io', version: 'v1alpha1', plural: 'dnsrecords', namespace: APP_NS })) as { items: { metadata: { name: string }; status?: { conditions?: { type: string; status: string; reason: string }[] } }[] };
        const refused = list.items.filter((o) => o.status?.conditions?.some((c) => c.type === 'Accepted' && c.status === 'False' && c.reason === 'RRsetTooLarge')).map((o) => o.metadata.name).sort();
        return JSON.stringify(refused) === JSON.stringify(Array.from({ length: 10 }, (_, i) => `huge-${40 + i}`));
      },
      { what: 'huge-40..49 refused RRsetTooLarge, no other record', timeoutMs: 30_000, intervalMs: 500 },
    );
  });

  it('the leader SIGKILLed mid-burst', async () => {
    const r = await runFault('leader SIGKILL mid-burst', 'covered before', async (b) => {
      await b.reached(BURST * 0.4);
      const old = await cluster.leader();
      const t0 = Date.now();
      old.ctl.proc.killGroupSync('SIGKILL');
      const next = await cluster.leader(old);
      const takeoverMs = Date.now() - t0;
      await b.done;
      await cluster.reviveControllers();
      return { takeoverMs, newLeader: next.name };
    });
    expectNoDivergence(r);
  });

  it('etcd and kube-apiserver SIGKILLed and restarted mid-burst', async () => {
    const r = await runFault('etcd + apiserver restart', 'covered before', async (b) => {
      await b.reached(BURST * 0.3);
      await cluster.cp.restartEtcd({ graceful: false });
      await cluster.cp.restartApiServer({ graceful: false });
      return { writeRetries: work.retries };
    });
    expectNoDivergence(r);
  });

  it('30% packet loss between controllers and agents', async () => {
    const r = await runFault('30% packet loss', 'covered before', async (b) => {
      await b.reached(BURST * 0.1);
      for (const a of cluster.agents) a.path.loss = 0.3;
      await b.done;
      for (const a of cluster.agents) a.path.loss = 0;
      return { dropped: cluster.agents.reduce((n, a) => n + a.path.stats.dropped, 0) };
    });
    expectNoDivergence(r);
  });

  // Issue #12 item 4: runs once its fix (the leader's catalog zone, SOA expire; the faults-a
  // stream) is in the tree — FAULT_4_ENABLED. Last, as it deletes one of the two zones.
  if (FAULT_4_ENABLED) it('a zone deleted while no leader runs is dropped by every agent; a zone not confirmed for its SOA expire answers SERVFAIL', async () => {
    const api = cluster.kc.makeApiClient(CustomObjectsApi);
    const Z = { group: 'dnssync.io', version: 'v1alpha1', plural: 'dnszones' };
    const [kept, doomed] = ZONES;
    const soa = (expire: number): object => ({ spec: { soa: { refresh: 2, retry: 1, expire } } });
    const patch = (name: string, body: object): Promise<unknown> => api.patchClusterCustomObject({ ...Z, name, body }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    // The kept zone expires 4 s after its last confirmation (at most a refresh of 2 s apart).
    await patch(kept.replace(/\./g, '-'), soa(4));
    await waitFor(async () => (await ask(cluster.agents[0]?.ip as string, cluster.agents[0]?.dns as number, [{ name: kept, type: 'SOA' }]))[0]?.rrs.some((rr) => rr.type === 'SOA' && (rr.data as { expire: number }).expire === 4), { what: 'agents hold the 4 s expire', timeoutMs: 20_000, intervalMs: 200 });
    let servfailAfterMs = 0;
    const r = await runFault('zone deleted while no leader runs; SOA expire', '#12.4', async (b) => {
      await b.reached(BURST * 0.3);
      for (const c of cluster.controllers) await c.ctl.proc.stop();
      const t0 = Date.now();
      await api.deleteClusterCustomObject({ ...Z, name: doomed.replace(/\./g, '-') });
      work.zonesEver.add(doomed);
      // No primary to confirm with: past its expire the kept zone is SERVFAIL on every agent, not NXDOMAIN, not forwarded.
      await waitFor(async () => {
        for (const a of cluster.agents) if ((await ask(a.ip, a.dns, [{ name: `r0.${kept}`, type: 'A' }]))[0]?.rcode !== 'SERVFAIL') return false;
        return true;
      }, { what: 'SERVFAIL past the SOA expire on every agent', timeoutMs: 30_000, intervalMs: 200 });
      servfailAfterMs = Date.now() - t0;
      await b.done;
      await cluster.reviveControllers();
      return { servfailAfterMs };
    });
    expectNoDivergence(r);
    expect(servfailAfterMs).toBeGreaterThan(0);
    await patch(kept.replace(/\./g, '-'), soa(3600));
  });
});
