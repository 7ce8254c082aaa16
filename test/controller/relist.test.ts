/**
 * The controller's informers relist for the two reasons DESIGN.md names, each asserted by its
 * cause (dnssync_informer_restarts_total{cause}), not by "some restart happened":
 *
 * - 410 Gone: a record is deleted while the API server is down, straight from etcd, and etcd
 *   is compacted past the informers' resource versions. When the API server is back, their
 *   watches cannot resume (410 Gone); only a relist learns of the deletion, and the agents
 *   must drop the record. The periodic relist is set to an hour, so it cannot do it instead.
 * - --relist-interval: a controller started with 2s relists every informer every 2 s.
 *
 * A private control plane (this file stops the API server and writes to etcd). Addresses:
 * 127.0.58.0/24.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeConfig } from '@kubernetes/client-node';
import { startControlPlane, type ControlPlane } from '../controlplane/controlplane.js';
import { waitFor } from '../util/wait.js';
import { createAgentPod, ensureNamespace, httpGet, kdigStatus, startAgents, startController, tempDir, writeKeyFile, type ControllerProcess, type TestAgent } from './harness.js';

const ZONE = 'relist.test';
const APP = 'app';
const AGENTS = 'agents';
let cp: ControlPlane;
let kc: KubeConfig;
let dir: string;
let keyFile: string;
let agents: TestAgent[] = [];
let syncPort = 0;
let ctl: ControllerProcess | undefined;

const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** etcd's v3 JSON gateway (the test etcd serves plain HTTP on loopback). */
async function etcd(path: string, body: object): Promise<Record<string, unknown>> {
  const res = await fetch(`${cp.etcdUrl}/v3/${path}`, { method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
  const out = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`etcd ${path}: ${res.status} ${JSON.stringify(out)}`);
  return out;
}

async function restarts(c: ControllerProcess, informer: string, cause: string): Promise<number> {
  const m = await httpGet(c.metrics, '/metrics');
  const line = m.body.split('\n').find((l) => l.startsWith(`dnssync_informer_restarts_total{informer="${informer}",cause="${cause}"} `));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

async function controller(name: string, relist: string): Promise<ControllerProcess> {
  const c = await startController({ dir, name, kubeconfig: cp.kubeconfig, ip: '127.0.58.100', agentNs: AGENTS, syncPort, keyFile, extra: ['--relist-interval', relist] });
  await waitFor(async () => (await httpGet(c.metrics, '/readyz').catch(() => ({ status: 0 }))).status === 200 || (c.proc.assertRunning(), false), { what: `${name} /readyz`, timeoutMs: 30_000 });
  return c;
}

async function apply(obj: object): Promise<void> {
  const r = await cp.kubectl(['apply', '-f', '-'], JSON.stringify(obj));
  if (r.code !== 0) throw new Error(`kubectl apply: ${r.stderr}`);
}

const record = (name: string, ip: string): object => ({ apiVersion: 'dnssync.io/v1alpha1', kind: 'DNSRecord', metadata: { name, namespace: APP }, spec: { name: `${name}.${ZONE}`, type: 'A', values: [ip] } });

beforeAll(async () => {
  cp = await startControlPlane();
  kc = cp.kubeConfig();
  dir = await tempDir('relist');
  keyFile = await writeKeyFile(dir);
  await ensureNamespace(kc, APP);
  await ensureNamespace(kc, AGENTS);
  const started = await startAgents(1, () => '127.0.58.1');
  agents = started.agents;
  syncPort = started.syncPort;
  await createAgentPod(kc, AGENTS, 'agent-0', '127.0.58.1', true);
  await apply({ apiVersion: 'dnssync.io/v1alpha1', kind: 'DNSZone', metadata: { name: 'relist' }, spec: { zone: `${ZONE}.`, soa: { refresh: 1, retry: 1 } } });
});

afterAll(async () => {
  await ctl?.proc.stop();
  for (const a of agents) await a.stop();
  await cp?.stop();
});

describe('informers relist', () => {
  it('on 410 Gone: a deletion made while the watch could not see it is found by the relist', async () => {
    ctl = await controller('ctl-gone', '1h');
    const a0 = agents[0] as TestAgent;
    await apply(record('doomed', '10.0.0.1'));
    await apply(record('stays', '10.0.0.2'));
    await waitFor(async () => (await kdigStatus(a0.ip, a0.dnsPort, `doomed.${ZONE}`, 'A')) === 'NOERROR', { what: 'doomed answered', timeoutMs: 15_000 });
    const key = `/registry/dnssync.io/dnsrecords/${APP}/doomed`;
    expect(Number((await etcd('kv/range', { key: b64(key), count_only: true })).count ?? 0), `${key} in etcd`).toBe(1);
    const goneBefore = await restarts(ctl, 'dnsrecords', 'gone');

    await cp.stopApiServer();
    await etcd('kv/deleterange', { key: b64(key) });
    // Move etcd's revision on and compact up to it: no watch can resume from before.
    for (let i = 0; i < 5; i++) await etcd('kv/put', { key: b64(`/relist-test/bump-${i}`), value: b64('x') });
    const rev = Number(((await etcd('kv/range', { key: b64('/relist-test/bump-0') })).header as { revision: string }).revision);
    await etcd('kv/compaction', { revision: String(rev), physical: true });
    await cp.startApiServer();

    await waitFor(async () => (await restarts(ctl as ControllerProcess, 'dnsrecords', 'gone')) > goneBefore, { what: 'the dnsrecords informer restarted for 410 Gone', timeoutMs: 40_000, intervalMs: 250 });
    await waitFor(async () => (await kdigStatus(a0.ip, a0.dnsPort, `doomed.${ZONE}`, 'A')) === 'NXDOMAIN', { what: 'the record deleted behind the watch is withdrawn', timeoutMs: 30_000 });
    expect(await kdigStatus(a0.ip, a0.dnsPort, `stays.${ZONE}`, 'A')).toBe('NOERROR');
    // Not the periodic relist (an hour away).
    expect(await restarts(ctl, 'dnsrecords', 'relist')).toBe(0);
    await ctl.proc.stop();
    ctl = undefined;
  }, 120_000);

  it('every --relist-interval', async () => {
    ctl = await controller('ctl-interval', '2s');
    const c = ctl;
    const informers = ['dnszones', 'dnsrecords', 'namespaces', 'agent-pods'];
    const before = await Promise.all(informers.map((i) => restarts(c, i, 'relist')));
    const t0 = performance.now();
    await waitFor(async () => {
      const now = await Promise.all(informers.map((i) => restarts(c, i, 'relist')));
      return now.every((n, i) => n >= (before[i] as number) + 2);
    }, { what: 'two periodic relists of every informer', timeoutMs: 20_000, intervalMs: 100 });
    // Two relists are at least one interval apart: not a relist loop.
    expect(performance.now() - t0).toBeGreaterThanOrEqual(2000 * 0.9);
    const a0 = agents[0] as TestAgent;
    expect(await kdigStatus(a0.ip, a0.dnsPort, `stays.${ZONE}`, 'A')).toBe('NOERROR');
  });
});
