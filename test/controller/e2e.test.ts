/**
 * The controller end to end: the real CLI as a process against a kube-apiserver of this file's
 * own (ownControlPlane: a controller writes the status of every record it sees),
 * three agents on 127.0.50.1-3 (each with a Pod whose status this test sets, as a kubelet
 * would), and kubectl/kdig as the user's tools.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeConfig } from '@kubernetes/client-node';
import { ownControlPlane } from '../controlplane/own.js';
import { uniqueNamespace } from '../controlplane/shared.js';
import { waitFor } from '../util/wait.js';
import {
  agentsDiffer,
  agentsMatchApi,
  createAgentPod,
  ensureNamespace,
  expectedZones,
  httpGet,
  kdig,
  kdigStatus,
  mainJs,
  nodeBin,
  setPodStatus,
  startAgents,
  startController,
  tempDir,
  writeKeyFile,
  type ControllerProcess,
  type TestAgent,
} from './harness.js';

const cp = ownControlPlane();
let kc: KubeConfig;
const suffix = Math.random().toString(36).slice(2, 7);
const ZONE = `e2e-${suffix}.test`;
const agentNs = uniqueNamespace('agents');
// Names order the namespaces: when two records are created in the same second, the
// tie-break (namespace/name) then agrees with the order the test creates them in.
const appNs = uniqueNamespace('a-shop');
const otherNs = uniqueNamespace('z-other');
let agents: TestAgent[] = [];
/** This file's zones: the shared API server (and so every agent here) also holds others'. */
const mine = (origin: string): boolean => origin === ZONE || origin === `sel-${suffix}.test`;
let ctl: ControllerProcess;

async function apply(yaml: string): Promise<void> {
  const r = await cp.kubectl(['apply', '-f', '-'], yaml);
  if (r.code !== 0) throw new Error(`kubectl apply: ${r.stderr}`);
}

function record(ns: string, name: string, spec: { name: string; type: string; values: string[]; ttl?: number }): string {
  return JSON.stringify({ apiVersion: 'dnssync.io/v1alpha1', kind: 'DNSRecord', metadata: { name, namespace: ns }, spec });
}

async function condition(ns: string, name: string, type: string): Promise<{ status: string; reason: string; message: string } | undefined> {
  const r = await cp.kubectl(['get', 'dnsrecord', '-n', ns, name, '-o', 'json']);
  if (r.code !== 0) return undefined;
  const obj = JSON.parse(r.stdout) as { status?: { conditions?: Array<{ type: string; status: string; reason: string; message: string }> } };
  return obj.status?.conditions?.find((c) => c.type === type);
}

async function allAnswer(name: string, type: string, want: string[]): Promise<boolean> {
  for (const a of agents) {
    const got = await kdig(a.ip, a.dnsPort, name, type);
    if (JSON.stringify(got) !== JSON.stringify([...want].sort())) return false;
  }
  return true;
}

/**
 * A barrier: a fresh record in `appNs`, answered by every agent. Changes reach an agent in
 * serial order, so whatever the controller did with objects written before it (a refused
 * record wrongly published, say) is visible on every agent once the barrier is.
 */
let barriers = 0;
async function barrier(): Promise<void> {
  const n = ++barriers;
  await apply(record(appNs, `barrier-${n}`, { name: `barrier-${n}.${ZONE}`, type: 'A', values: [`10.255.0.${n}`] }));
  await waitFor(() => allAnswer(`barrier-${n}.${ZONE}`, 'A', [`10.255.0.${n}`]), { what: `barrier ${n} on every agent`, timeoutMs: 10_000 });
}

/** A counter or gauge's value in a Prometheus text exposition (undefined when absent). */
function metricValue(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  return undefined;
}

async function warningEvents(ns: string, name: string): Promise<string[]> {
  const r = await cp.kubectl(['get', 'events', '-n', ns, '--field-selector', `involvedObject.name=${name},type=Warning`, '-o', 'jsonpath={range .items[*]}{.reason}{"\\n"}{end}']);
  return r.stdout.split('\n').filter((l) => l !== '');
}

beforeAll(async () => {
  kc = cp.kubeConfig();
  const dir = await tempDir('e2e');
  const keyFile = await writeKeyFile(dir);
  await ensureNamespace(kc, agentNs);
  await ensureNamespace(kc, appNs, { 'dns.test/publish': 'true' });
  await ensureNamespace(kc, otherNs);
  const started = await startAgents(3, (i) => `127.0.50.${i + 1}`);
  agents = started.agents;
  for (const [i, a] of agents.entries()) await createAgentPod(kc, agentNs, `agent-${i}`, a.ip, true);
  await apply(JSON.stringify({ apiVersion: 'dnssync.io/v1alpha1', kind: 'DNSZone', metadata: { name: `e2e-${suffix}` }, spec: { zone: `${ZONE}.`, defaultTTL: 30, soa: { refresh: 1, retry: 1 } } }));
  ctl = await startController({ dir, name: 'ctl-e2e', kubeconfig: cp.kubeconfig, ip: '127.0.50.100', agentNs, syncPort: started.syncPort, keyFile });
  await waitFor(async () => (await httpGet(ctl.metrics, '/readyz').catch(() => ({ status: 0 }))).status === 200 || (ctl.proc.assertRunning(), false), { what: 'controller /readyz', timeoutMs: 30_000 });
});

afterAll(async () => {
  await ctl?.proc.stop();
  for (const a of agents) await a.stop();
  await cp.kubectl(['delete', 'dnszone', `e2e-${suffix}`, `e2e-sel-${suffix}`, '--ignore-not-found']);
  for (const ns of [agentNs, appNs, otherNs]) await cp.kubectl(['delete', 'namespace', ns, '--wait=false']);
});

describe('records reach every agent', () => {
  it('create, patch, rename and delete: every agent answers the new data; status and columns follow', async () => {
    await apply(record(appNs, 'api', { name: `api.${ZONE}.`, type: 'A', values: ['10.1.2.3', '10.1.2.4'] }));
    await waitFor(() => allAnswer(`api.${ZONE}`, 'A', ['10.1.2.3', '10.1.2.4']), { what: 'all agents answer the new A', timeoutMs: 10_000 });
    await waitFor(async () => (await condition(appNs, 'api', 'Ready'))?.status === 'True', { what: 'Ready=True', timeoutMs: 10_000 });
    expect((await condition(appNs, 'api', 'Ready'))?.message).toBe('applied on 3/3 nodes');
    const cols = await cp.kubectl(['get', 'dnsrecords', '-n', appNs, 'api', '--no-headers']);
    expect(cols.stdout).toMatch(/^api\s+A\s+\["10.1.2.3","10.1.2.4"\]\s+True\s+3\/3\s+/);

    await cp.kubectl(['patch', 'dnsrecord', '-n', appNs, 'api', '--type=merge', '-p', '{"spec":{"values":["10.9.9.9"],"ttl":60}}']);
    await waitFor(() => allAnswer(`api.${ZONE}`, 'A', ['10.9.9.9']), { what: 'all agents answer the patched A', timeoutMs: 10_000 });
    await waitFor(async () => {
      const r = await cp.kubectl(['get', 'dnsrecord', '-n', appNs, 'api', '-o', 'jsonpath={.metadata.generation} {.status.observedGeneration} {.status.nodes}']);
      return r.stdout === '2 2 3/3';
    }, { what: 'observedGeneration 2 on 3/3 nodes', timeoutMs: 10_000 });

    await cp.kubectl(['patch', 'dnsrecord', '-n', appNs, 'api', '--type=merge', '-p', `{"spec":{"name":"api2.${ZONE}"}}`]);
    await waitFor(() => allAnswer(`api2.${ZONE}`, 'A', ['10.9.9.9']), { what: 'renamed record answered', timeoutMs: 10_000 });
    for (const a of agents) expect(await kdigStatus(a.ip, a.dnsPort, `api.${ZONE}`, 'A')).toBe('NXDOMAIN');

    await cp.kubectl(['delete', 'dnsrecord', '-n', appNs, 'api']);
    await waitFor(async () => {
      for (const a of agents) if ((await kdigStatus(a.ip, a.dnsPort, `api2.${ZONE}`, 'A')) !== 'NXDOMAIN') return false;
      return true;
    }, { what: 'deleted record gone everywhere', timeoutMs: 10_000 });
  });

  it('records of one name and type in one namespace merge into one RRset; TXT and SRV values', async () => {
    await apply(record(appNs, 'web-a', { name: `web.${ZONE}`, type: 'A', values: ['10.0.0.1'] }));
    // A longer TTL than web-a's (the zone default, 30): the merged RRset takes the lowest.
    await apply(record(appNs, 'web-b', { name: `web.${ZONE}`, type: 'A', values: ['10.0.0.2'], ttl: 60 }));
    await apply(record(appNs, 'txt', { name: `web.${ZONE}`, type: 'TXT', values: ['hello world'] }));
    await apply(record(appNs, 'srv', { name: `_http._tcp.${ZONE}`, type: 'SRV', values: [`10 5 8080 web.${ZONE}.`] }));
    await waitFor(() => allAnswer(`web.${ZONE}`, 'A', ['10.0.0.1', '10.0.0.2']), { what: 'merged RRset', timeoutMs: 10_000 });
    await waitFor(() => allAnswer(`web.${ZONE}`, 'TXT', ['"hello world"']), { what: 'TXT', timeoutMs: 10_000 });
    await waitFor(() => allAnswer(`_http._tcp.${ZONE}`, 'SRV', [`10 5 8080 web.${ZONE}.`]), { what: 'SRV', timeoutMs: 10_000 });
    await waitFor(async () => (await condition(appNs, 'web-b', 'Ready'))?.status === 'True', { what: 'merged record Ready', timeoutMs: 10_000 });
  });

  it('the zone status shows serial, records and nodes', async () => {
    await waitFor(async () => {
      const r = await cp.kubectl(['get', 'dnszone', `e2e-${suffix}`, '--no-headers']);
      return /\s\d+\s+\d+\s+3\/3/.test(r.stdout) ? r.stdout : undefined;
    }, { what: 'dnszone columns', timeoutMs: 10_000 });
    const serial = (await cp.kubectl(['get', 'dnszone', `e2e-${suffix}`, '-o', 'jsonpath={.status.serial}'])).stdout;
    for (const a of agents) await waitFor(() => a.serial(ZONE) === Number(serial), { what: `${a.name} at the zone serial`, timeoutMs: 10_000 });
  });
});

describe('policy: refusals are reported in status and as Warning events', () => {
  it('a name in no zone', async () => {
    await apply(record(appNs, 'nozone', { name: `x.nowhere-${suffix}.test`, type: 'A', values: ['10.0.0.1'] }));
    await waitFor(async () => (await condition(appNs, 'nozone', 'Accepted'))?.reason === 'NoZone', { what: 'NoZone', timeoutMs: 10_000 });
    expect((await condition(appNs, 'nozone', 'Accepted'))?.message).toContain('lies in no DNSZone');
    expect((await condition(appNs, 'nozone', 'Ready'))?.status).toBe('False');
    await waitFor(async () => (await warningEvents(appNs, 'nozone')).includes('NoZone'), { what: 'NoZone event', timeoutMs: 10_000 });
  });

  it('another namespace already owns the name and type: the older wins', async () => {
    await apply(record(appNs, 'owner', { name: `owned.${ZONE}`, type: 'A', values: ['10.0.0.1'] }));
    await waitFor(async () => (await condition(appNs, 'owner', 'Ready'))?.status === 'True', { what: 'owner Ready', timeoutMs: 10_000 });
    await apply(record(otherNs, 'intruder', { name: `owned.${ZONE}`, type: 'A', values: ['10.6.6.6'] }));
    await waitFor(async () => (await condition(otherNs, 'intruder', 'Accepted'))?.reason === 'NameConflict', { what: 'NameConflict', timeoutMs: 10_000 });
    expect((await condition(otherNs, 'intruder', 'Accepted'))?.message).toContain(`owned by namespace ${appNs}`);
    await waitFor(async () => (await warningEvents(otherNs, 'intruder')).includes('NameConflict'), { what: 'NameConflict event', timeoutMs: 10_000 });
    await barrier();
    expect(await allAnswer(`owned.${ZONE}`, 'A', ['10.0.0.1'])).toBe(true);
    const cols = await cp.kubectl(['get', 'dnsrecords', '-n', otherNs, 'intruder', '--no-headers']);
    expect(cols.stdout).toMatch(/\sFalse\s+-\s/);
    // The owner goes away: the refused record takes the name over.
    await cp.kubectl(['delete', 'dnsrecord', '-n', appNs, 'owner']);
    await waitFor(() => allAnswer(`owned.${ZONE}`, 'A', ['10.6.6.6']), { what: 'the next namespace takes over', timeoutMs: 10_000 });
    await waitFor(async () => (await condition(otherNs, 'intruder', 'Ready'))?.status === 'True', { what: 'intruder now Ready', timeoutMs: 10_000 });
  });

  it('a CNAME beside other data', async () => {
    await apply(record(appNs, 'a-data', { name: `alias.${ZONE}`, type: 'TXT', values: ['x'] }));
    await waitFor(async () => (await condition(appNs, 'a-data', 'Ready'))?.status === 'True', { what: 'TXT Ready', timeoutMs: 10_000 });
    await apply(record(appNs, 'z-alias', { name: `alias.${ZONE}`, type: 'CNAME', values: [`web.${ZONE}.`] }));
    await waitFor(async () => (await condition(appNs, 'z-alias', 'Accepted'))?.reason === 'CNAMEConflict', { what: 'CNAMEConflict', timeoutMs: 10_000 });
    await waitFor(async () => (await warningEvents(appNs, 'z-alias')).includes('CNAMEConflict'), { what: 'CNAMEConflict event', timeoutMs: 10_000 });
    await barrier();
    expect((await condition(appNs, 'a-data', 'Ready'))?.status).toBe('True');
    expect(await allAnswer(`alias.${ZONE}`, 'TXT', ['"x"'])).toBe(true);
    expect(await allAnswer(`alias.${ZONE}`, 'CNAME', [])).toBe(true);
  });

  it("a namespace the zone's selector does not allow; labelling it admits the record", async () => {
    const SEL = `sel-${suffix}.test`;
    await apply(JSON.stringify({ apiVersion: 'dnssync.io/v1alpha1', kind: 'DNSZone', metadata: { name: `e2e-sel-${suffix}` }, spec: { zone: SEL, namespaceSelector: { matchLabels: { 'dns.test/publish': 'true' } } } }));
    await apply(record(otherNs, 'denied', { name: `a.${SEL}`, type: 'A', values: ['10.0.0.7'] }));
    await waitFor(async () => (await condition(otherNs, 'denied', 'Accepted'))?.reason === 'NamespaceNotAllowed', { what: 'NamespaceNotAllowed', timeoutMs: 10_000 });
    await waitFor(async () => (await warningEvents(otherNs, 'denied')).includes('NamespaceNotAllowed'), { what: 'NamespaceNotAllowed event', timeoutMs: 10_000 });
    await cp.kubectl(['label', 'namespace', otherNs, 'dns.test/publish=true']);
    await waitFor(async () => (await condition(otherNs, 'denied', 'Ready'))?.status === 'True', { what: 'admitted after labelling', timeoutMs: 10_000 });
    expect(await allAnswer(`a.${SEL}`, 'A', ['10.0.0.7'])).toBe(true);
    // One Event for the one refusal, not one per reconcile.
    expect((await warningEvents(otherNs, 'denied')).filter((r) => r === 'NamespaceNotAllowed')).toHaveLength(1);
  });
});

describe('agents and zones come and go', () => {
  it('a not-ready agent does not count; once ready it is counted and holds the zone', async () => {
    const [a0] = agents;
    if (!a0) throw new Error('no agent');
    await setPodStatus(kc, agentNs, 'agent-0', a0.ip, false);
    await apply(record(appNs, 'count', { name: `count.${ZONE}`, type: 'A', values: ['10.0.0.9'] }));
    await waitFor(async () => (await condition(appNs, 'count', 'Ready'))?.message === 'applied on 2/2 nodes', { what: '2/2 while one agent is not ready', timeoutMs: 10_000 });
    await setPodStatus(kc, agentNs, 'agent-0', a0.ip, true);
    await waitFor(async () => (await condition(appNs, 'count', 'Ready'))?.message === 'applied on 3/3 nodes', { what: '3/3 once ready', timeoutMs: 10_000 });
    // Counted means holding the data: the record answers, and the zone is what the API says.
    expect(await kdig(a0.ip, a0.dnsPort, `count.${ZONE}`, 'A')).toEqual(['10.0.0.9']);
    expect(agentsDiffer([a0], await expectedZones(kc, mine), mine)).toBeUndefined();
  });

  it('every agent holds exactly what the API holds', async () => {
    await waitFor(() => agentsMatchApi(kc, agents, mine), { what: 'agents equal the API', timeoutMs: 10_000 });
  });

  it('deleting the zone withdraws it from every agent', async () => {
    await cp.kubectl(['delete', 'dnszone', `e2e-${suffix}`]);
    await waitFor(async () => {
      for (const a of agents) if (a.store.get(ZONE)) return false;
      return true;
    }, { what: 'zone removed from agents', timeoutMs: 15_000 });
    expect(agentsDiffer(agents, await expectedZones(kc, mine), mine)).toBeUndefined();
    await waitFor(async () => (await condition(appNs, 'web-a', 'Accepted'))?.reason === 'NoZone', { what: 'records refused once the zone is gone', timeoutMs: 10_000 });
  });

  it('/metrics reports propagation and status writes', async () => {
    const m = await httpGet(ctl.metrics, '/metrics');
    // Every change above was propagated and written to status: the counts cannot be 0.
    expect(metricValue(m.body, 'dnssync_propagation_seconds_count')).toBeGreaterThan(0);
    expect(metricValue(m.body, 'dnssync_status_writes_total{kind="DNSRecord",result="ok"}')).toBeGreaterThan(0);
    expect(metricValue(m.body, 'dnssync_agents{state="in_sync"}')).toBe(3);
  });
});

describe('the command line', () => {
  it('a bad flag or a taken transfer port: one line naming the flag, exit code 2', async () => {
    const { execFile } = await import('node:child_process');
    const { createSocket } = await import('node:dgram');
    const run = (args: string[]): Promise<{ code: number; stderr: string }> =>
      new Promise((resolve) => {
        execFile(nodeBin, [mainJs, 'controller', ...args], { timeout: 30_000 }, (err, _out, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stderr }));
      });
    const bad = await run(['--agent-sync-port', 'x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toContain('--agent-sync-port');
    const sock = createSocket('udp4');
    await new Promise<void>((resolve) => sock.bind(0, '127.0.50.99', () => resolve()));
    try {
      const taken = await run(['--kubeconfig', cp.kubeconfig, '--agent-namespace', agentNs, '--transfer-listen', `127.0.50.99:${sock.address().port}`, '--log-level', 'silent']);
      expect(taken.code, taken.stderr).toBe(2);
      expect(taken.stderr).toMatch(/^dnssync controller: --transfer-listen: .*EADDRINUSE/);
    } finally {
      sock.close();
    }
  });
});
