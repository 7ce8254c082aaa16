/**
 * Serials go on forward across a controller takeover, by each mechanism on its own. Three
 * keep them monotonic at once — the new leader's SOA probe of the agents before its first
 * push, resuming past an agent that holds a later serial from the older term, and time-stamp
 * serials — so the failover check in faults.test.ts passes with any two of them broken. Here
 * both controllers' clocks are frozen (DNSSYNC_TEST_CLOCK, src/cli/test-clock.ts), and the
 * agents' Pods lose their IPs while the new leader starts (no agents to probe, as when they
 * are away); each test leaves one mechanism standing and checks the serial it gives, and
 * whether the new leader had to resume past the agents (its log says so).
 * A private control plane (controllers write statuses of every record they see); addresses
 * 127.0.61.0/24.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { startControlPlane, type ControlPlane } from '../controlplane/controlplane.js';
import { serialGt } from '../../src/dns/serial.js';
import { waitFor } from '../util/wait.js';
import { agentsMatchApi, createAgentPod, ensureNamespace, httpGet, setPodStatus, startAgents, startController, tempDir, writeKeyFile, type ControllerProcess } from './harness.js';

const ZONE = 'takeover.test';
const APP = 'app';
/** The first leader's frozen clock: its serials are C, C+1, … */
const C = 1_800_000_000;
const G = { group: 'dnssync.io', version: 'v1alpha1', plural: 'dnsrecords' };
let cp: ControlPlane;
let kc: KubeConfig;
let dir: string;
let keyFile: string;

beforeAll(async () => {
  cp = await startControlPlane();
  kc = cp.kubeConfig();
  dir = await tempDir('takeover-serials');
  keyFile = await writeKeyFile(dir);
  await ensureNamespace(kc, APP);
  await kc.makeApiClient(CustomObjectsApi).createClusterCustomObject({ group: 'dnssync.io', version: 'v1alpha1', plural: 'dnszones', body: { apiVersion: 'dnssync.io/v1alpha1', kind: 'DNSZone', metadata: { name: 'takeover' }, spec: { zone: ZONE, soa: { refresh: 2, retry: 1 } } } });
});

afterAll(async () => {
  await cp?.stop();
});

async function createRecord(name: string, ip: string): Promise<void> {
  await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({ ...G, namespace: APP, body: { apiVersion: 'dnssync.io/v1alpha1', kind: 'DNSRecord', metadata: { name }, spec: { name: `${name}.${ZONE}`, type: 'A', values: [ip] } } });
}

/** The Pod as a kubelet leaves it while its agent is away: no IP, so nobody to push to. */
async function unsetPodIp(ns: string, name: string): Promise<void> {
  await kc.makeApiClient(CoreV1Api).patchNamespacedPodStatus({ namespace: ns, name, body: { status: { podIP: null, podIPs: null } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
}

const inZone = (origin: string): boolean => origin === ZONE;

async function leads(c: ControllerProcess): Promise<boolean> {
  const m = await httpGet(c.metrics, '/metrics').catch(() => undefined);
  return m !== undefined && /^dnssync_leader 1$/m.test(m.body);
}

const log = (c: ControllerProcess): Promise<string> => readFile(c.logFile, 'utf8');

/**
 * Leader `a` (clock frozen at C) brings two agents to a serial past C+1 and is SIGKILLed; a
 * record is created while no one leads; standby `b` (clock frozen at `clockB`) takes over.
 * With `agentsAwayDuringTakeover` the agents' Pods have no IP from before the kill until `b`
 * has pushed its zones. Resolves once both agents hold the API's data.
 */
async function takeover(tag: string, net: number, clockB: number, agentsAwayDuringTakeover: boolean): Promise<{ before: number; after: number; resumed: boolean }> {
  const ns = `takeover-${tag}`;
  await ensureNamespace(kc, ns);
  const { agents, syncPort } = await startAgents(2, (i) => `127.0.61.${net + i}`);
  const ctls: ControllerProcess[] = [];
  try {
    for (const [i, ag] of agents.entries()) await createAgentPod(kc, ns, `agent-${i}`, ag.ip, true);
    const start = async (name: string, ip: string, clock: number): Promise<ControllerProcess> => {
      const c = await startController({
        dir, name: `${tag}-${name}`, kubeconfig: cp.kubeconfig, ip, agentNs: ns, syncPort, keyFile, env: { DNSSYNC_TEST_CLOCK: String(clock) },
        extra: ['--leader-elect', '--lease-namespace', ns, '--lease-duration', '3s', '--renew-deadline', '2s', '--retry-period', '500ms'],
      });
      ctls.push(c);
      return c;
    };
    const a = await start('a', `127.0.61.${net + 10}`, C);
    await waitFor(() => leads(a), { what: 'a leads', timeoutMs: 20_000 });
    const b = await start('b', `127.0.61.${net + 11}`, clockB);
    for (let i = 0; i < 2; i++) {
      await createRecord(`${tag}-${i}`, `10.61.${net}.${i + 1}`);
      await waitFor(() => agentsMatchApi(kc, agents, inZone), { what: `change ${i} on every agent`, timeoutMs: 20_000, intervalMs: 250 });
    }
    const before = agents[0]?.serial(ZONE) as number;
    expect(agents[1]?.serial(ZONE)).toBe(before);
    // Past C+1: a new leader's own first serial at C is behind the agents.
    expect(serialGt(before, C)).toBe(true);
    if (agentsAwayDuringTakeover) for (let i = 0; i < agents.length; i++) await unsetPodIp(ns, `agent-${i}`);
    a.proc.killGroupSync('SIGKILL');
    await createRecord(`${tag}-down`, `10.61.${net}.99`);
    await waitFor(() => leads(b), { what: 'b takes over', timeoutMs: 20_000 });
    await waitFor(async () => (await log(b)).includes('leading: zones pushed to agents'), { what: 'b past its probe and first push', timeoutMs: 20_000 });
    if (agentsAwayDuringTakeover) for (const [i, ag] of agents.entries()) await setPodStatus(kc, ns, `agent-${i}`, ag.ip, true);
    await waitFor(() => agentsMatchApi(kc, agents, inZone), { what: "the agents on b's data", timeoutMs: 30_000, intervalMs: 250 });
    const after = agents[0]?.serial(ZONE) as number;
    expect(agents[1]?.serial(ZONE)).toBe(after);
    return { before, after, resumed: (await log(b)).includes('resuming past it') };
  } finally {
    for (const c of ctls) await c.proc.stop();
    for (const ag of agents) await ag.stop();
  }
}

describe('serials after a controller takeover, one mechanism at a time', () => {
  it("the probe alone (both clocks frozen at C): the new leader's first serial follows the agents'", async () => {
    const r = await takeover('probe', 1, C, false);
    expect(r.resumed).toBe(false);
    expect(r.after).toBe(r.before + 1);
  });

  it("resuming by term alone (clocks frozen at C, agents away during the takeover): the new leader's serial falls behind, its newer term goes past the agents'", async () => {
    const r = await takeover('resume', 21, C, true);
    expect(r.resumed).toBe(true);
    expect(r.after).toBe(r.before + 1);
  });

  it("the clock alone (the new leader's clock far on, agents away during the takeover): its first serial is the time stamp, no resume needed", async () => {
    const later = C + 100_000;
    const r = await takeover('clock', 41, later, true);
    expect(r.resumed).toBe(false);
    expect(r.after).toBe(later);
  });
});
