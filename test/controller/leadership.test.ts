/**
 * Two leaders. A controller cut off from the API server, but still running and still able to
 * reach the agents, must stop pushing within its renew deadline (every Lease call times out);
 * and a leader that does not know it was deposed must not get its pushes taken (fencing by
 * leadership term). In both, agents end on the new leader's data, and the new leader's
 * in-sync view is true. A private control plane; addresses 127.0.57.0/24.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { join } from 'node:path';
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { startControlPlane, type ControlPlane } from '../controlplane/controlplane.js';
import { canonicalName } from '../../src/dns/rr.js';
import { waitFor } from '../util/wait.js';
import { ApiRelay } from './api-relay.js';
import { CutRelay } from './cut-relay.js';
import { agentsMatchApi, createAgentPod, ensureNamespace, httpGet, startAgents, startController, tempDir, writeKeyFile, type ControllerProcess, type TestAgent } from './harness.js';

const ZONE = 'leaders.test';
const APP = 'app';
const G = { group: 'dnssync.io', version: 'v1alpha1', plural: 'dnsrecords' };
let cp: ControlPlane;
let kc: KubeConfig;
let dir: string;
let keyFile: string;

async function setRecord(name: string, ip: string): Promise<void> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const body = { apiVersion: 'dnssync.io/v1alpha1', kind: 'DNSRecord', metadata: { name }, spec: { name: `${name}.${ZONE}`, type: 'A', values: [ip] } };
  try {
    await api.createNamespacedCustomObject({ ...G, namespace: APP, body });
  } catch (err) {
    if ((err as { code?: number }).code !== 409) throw err;
    await api.patchNamespacedCustomObject({ ...G, namespace: APP, name, body: { spec: { values: [ip] } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  }
}

async function metric(c: ControllerProcess, re: RegExp): Promise<string | undefined> {
  const m = await httpGet(c.metrics, '/metrics').catch(() => undefined);
  return m ? re.exec(m.body)?.[1] : undefined;
}

async function isLeader(c: ControllerProcess): Promise<boolean> {
  return (await metric(c, /^dnssync_leader (\d+)$/m)) === '1';
}

/** True once nothing accepts TCP on `hostPort`: the primary behind it has closed. */
function closed(hostPort: string): Promise<boolean> {
  const [host, port] = hostPort.split(':') as [string, string];
  return new Promise((resolve) => {
    const s = connect(Number(port), host);
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

/** Whether `agent` serves `name` A `ip`. */
function holds(agent: TestAgent, name: string, ip: string): boolean {
  const z = agent.store.get(ZONE);
  return z !== undefined && [...z.records()].some((r) => r.name === canonicalName(name) && r.type === 'A' && r.data === ip);
}

beforeAll(async () => {
  cp = await startControlPlane();
  kc = cp.kubeConfig();
  dir = await tempDir('leadership');
  keyFile = await writeKeyFile(dir);
  await ensureNamespace(kc, APP);
  const api = kc.makeApiClient(CustomObjectsApi);
  await api.createClusterCustomObject({ group: 'dnssync.io', version: 'v1alpha1', plural: 'dnszones', body: { apiVersion: 'dnssync.io/v1alpha1', kind: 'DNSZone', metadata: { name: 'leaders' }, spec: { zone: ZONE, soa: { refresh: 2, retry: 1 } } } });
  await setRecord('www', '10.0.0.1');
}, 120_000);

afterAll(async () => {
  await cp?.stop();
});

describe('a leader cut off from the API server', () => {
  const ns = 'agents-partition';
  let relay: ApiRelay;
  let agents: TestAgent[] = [];
  let a: ControllerProcess;
  let b: ControllerProcess | undefined;

  beforeAll(async () => {
    relay = new ApiRelay('127.0.57.200', { host: '127.0.0.1', port: Number(new URL(cp.server).port) });
    await relay.start();
    await ensureNamespace(kc, ns);
    const started = await startAgents(2, (i) => `127.0.57.${i + 1}`);
    agents = started.agents;
    for (const [i, ag] of agents.entries()) await createAgentPod(kc, ns, `agent-${i}`, ag.ip, true);
    const election = ['--leader-elect', '--lease-namespace', ns, '--lease-duration', '2s', '--renew-deadline', '1s', '--retry-period', '200ms'];
    const viaRelay = await relay.kubeconfig(cp.kubeconfig, join(dir, 'kubeconfig-relay'));
    a = await startController({ dir, name: 'ctl-a', kubeconfig: viaRelay, ip: '127.0.57.100', agentNs: ns, syncPort: started.syncPort, keyFile, extra: election });
    await waitFor(() => isLeader(a), { what: 'controller A leads', timeoutMs: 30_000 });
    b = await startController({ dir, name: 'ctl-b', kubeconfig: cp.kubeconfig, ip: '127.0.57.101', agentNs: ns, syncPort: started.syncPort, keyFile, extra: election });
    await waitFor(() => agentsMatchApi(kc, agents), { what: 'agents hold the API data from A', timeoutMs: 30_000, intervalMs: 250 });
  }, 120_000);

  afterAll(async () => {
    await a?.proc.stop();
    await b?.proc.stop();
    for (const ag of agents) await ag.stop();
    await relay?.stop();
  });

  it('stops pushing within its renew deadline; the standby takes over and agents follow it', async () => {
    expect(await closed(a.transfer)).toBe(false);
    const t0 = performance.now();
    relay.blackhole();
    // A closes its primary (transfer port, NOTIFY socket) when it steps down.
    await waitFor(() => closed(a.transfer), { what: "A's primary closed", timeoutMs: 10_000, intervalMs: 20 });
    const took = performance.now() - t0;
    console.info(`partitioned leader stopped pushing ${Math.round(took)} ms after the partition (renew deadline 1000 ms)`);
    // Renew deadline 1 s, counted from A's last renewal (sent before the partition), plus
    // 500 ms for two busy cores; the lease itself is 2 s.
    expect(took).toBeLessThan(1500);
    a.proc.assertRunning();
    expect(await isLeader(a)).toBe(false);
    const other = b as ControllerProcess;
    await waitFor(() => isLeader(other), { what: 'B takes over', timeoutMs: 15_000 });
    await setRecord('www', '10.0.0.2');
    await waitFor(() => agentsMatchApi(kc, agents), { what: "agents hold the API data from B", timeoutMs: 30_000, intervalMs: 250 });
    await waitFor(async () => (await metric(other, /^dnssync_agents\{state="in_sync"\} (\d+)$/m)) === '2', { what: 'B counts both agents in sync', timeoutMs: 10_000 });
  });
});

describe('a deposed leader that does not know it (fencing by leadership term)', () => {
  const ns = 'agents-fencing';
  let relay: ApiRelay;
  let cut: CutRelay;
  let agents: TestAgent[] = [];
  let a: ControllerProcess;
  let b: ControllerProcess;
  const aIp = '127.0.57.110';

  afterAll(async () => {
    await a?.proc.stop();
    await b?.proc.stop();
    for (const ag of agents) await ag.stop();
    cut?.stop();
    await relay?.stop();
  });

  it("its stale push after the takeover is refused: agents end on the new leader's data, and the new leader's in-sync view is true", async () => {
    relay = new ApiRelay('127.0.57.201', { host: '127.0.0.1', port: Number(new URL(cp.server).port) });
    await relay.start();
    await ensureNamespace(kc, ns);
    const started = await startAgents(2, (i) => `127.0.57.${i + 11}`);
    agents = started.agents;
    const [first, second] = agents as [TestAgent, TestAgent];
    // The second agent's Pod IP is a relay that can cut A off from it.
    cut = new CutRelay('127.0.57.21', started.syncPort, '127.0.57.22', { host: second.ip, port: second.syncPort });
    await cut.start();
    await createAgentPod(kc, ns, 'agent-0', first.ip, true);
    await createAgentPod(kc, ns, 'agent-1', cut.frontIp, true);
    // A stands for a leader that cannot tell it was deposed (a stalled process, a clock that
    // ran slow): its renew deadline outlasts the lease it writes, so it keeps leading after
    // the standby may take over. Only fencing keeps its pushes out.
    const viaRelay = await relay.kubeconfig(cp.kubeconfig, join(dir, 'kubeconfig-relay-fencing'));
    a = await startController({ dir, name: 'ctl-fa', kubeconfig: viaRelay, ip: aIp, agentNs: ns, syncPort: started.syncPort, keyFile, extra: ['--leader-elect', '--lease-namespace', ns, '--lease-duration', '2s', '--renew-deadline', '60s', '--retry-period', '200ms'] });
    await waitFor(() => isLeader(a), { what: 'A leads', timeoutMs: 30_000 });
    b = await startController({ dir, name: 'ctl-fb', kubeconfig: cp.kubeconfig, ip: '127.0.57.111', agentNs: ns, syncPort: started.syncPort, keyFile, extra: ['--leader-elect', '--lease-namespace', ns, '--lease-duration', '2s', '--renew-deadline', '1s', '--retry-period', '200ms'] });
    await waitFor(() => agentsMatchApi(kc, agents), { what: 'agents hold the API data from A', timeoutMs: 30_000, intervalMs: 250 });

    // A change A pushes to the first agent only: it keeps retrying the second.
    cut.cutOff(aIp);
    await setRecord('api', '10.1.0.1');
    await waitFor(() => holds(first, `api.${ZONE}`, '10.1.0.1'), { what: 'the first agent has the change from A', timeoutMs: 10_000 });
    expect(holds(second, `api.${ZONE}`, '10.1.0.1')).toBe(false);
    // Then A loses the API server, but keeps running and still thinks it leads.
    relay.blackhole();
    await waitFor(() => isLeader(b), { what: 'B takes over', timeoutMs: 20_000 });
    expect(await isLeader(a)).toBe(true);
    await setRecord('api', '10.1.0.2');
    await waitFor(() => agentsMatchApi(kc, agents), { what: "agents hold the API data from B", timeoutMs: 30_000, intervalMs: 250 });
    // Now A's retries reach the second agent again, with A's stale zone.
    const before = cut.passed.get(aIp) ?? 0;
    cut.restore(aIp);
    await waitFor(() => (cut.passed.get(aIp) ?? 0) >= before + 2, { what: "A's NOTIFY to the second agent and its answer", timeoutMs: 15_000 });
    // A acts on that answer at once (fenced: it stops; unfenced: it raised its serial past the
    // agent's and pushed its stale zone). Watch for 3 s that nothing moves the agents off B.
    const until = Date.now() + 3000;
    while (Date.now() < until) {
      await agentsMatchApi(kc, agents);
      const bSerial = Number(await metric(b, /^dnssync_zone_serial\{zone="leaders\.test"\} (\d+)$/m));
      for (const ag of agents) expect(ag.serial(ZONE)).toBe(bSerial);
      expect(await metric(b, /^dnssync_agents\{state="in_sync"\} (\d+)$/m)).toBe('2');
      await new Promise((r) => setTimeout(r, 100));
    }
  });
});
