/**
 * IPv6 agent pods: on a single-stack IPv6 cluster every podIP is an IPv6 address. The real
 * controller (transfer endpoint on [::1]) must find agents by their IPv6 podIP, push to them
 * and count them; the agents answer over IPv6. Agents on ::1 and fd00:53::2 (added to lo for
 * the run and removed after it; it never leaves the loopback interface).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../controlplane/ports.js';
import type { KubeConfig } from '@kubernetes/client-node';
import { ownControlPlane } from '../controlplane/own.js';
import { uniqueNamespace } from '../controlplane/shared.js';
import { waitFor } from '../util/wait.js';
import { agentsMatchApi, createAgentPod, ensureNamespace, httpGet, kdig, startAgents, startController, tempDir, writeKeyFile, type ControllerProcess, type TestAgent } from './harness.js';

const exec = promisify(execFile);
const cp = ownControlPlane(); // its controller would write other files' record statuses on the shared one
let kc: KubeConfig;
const suffix = Math.random().toString(36).slice(2, 7);
const ZONE = `v6-${suffix}.test`;
const agentNs = uniqueNamespace('v6-agents');
const appNs = uniqueNamespace('v6-app');
const IPS = ['::1', 'fd00:53::2'];
const mine = (origin: string): boolean => origin === ZONE;
let agents: TestAgent[] = [];
let ctl: ControllerProcess;

async function condition(name: string, type: string): Promise<{ status: string; message: string } | undefined> {
  const r = await cp.kubectl(['get', 'dnsrecord', '-n', appNs, name, '-o', 'json']);
  if (r.code !== 0) return undefined;
  const obj = JSON.parse(r.stdout) as { status?: { conditions?: Array<{ type: string; status: string; message: string }> } };
  return obj.status?.conditions?.find((c) => c.type === type);
}

beforeAll(async () => {
  kc = cp.kubeConfig();
  await exec('ip', ['-6', 'addr', 'add', `${IPS[1]}/128`, 'dev', 'lo', 'nodad']).catch((err: { stderr?: string }) => {
    // Left by a run that was killed before its afterAll: the address is there, which is all we need.
    if (!/File exists|already assigned/.test(err.stderr ?? '')) throw err;
  });
  const dir = await tempDir('ipv6');
  const keyFile = await writeKeyFile(dir);
  await ensureNamespace(kc, agentNs);
  await ensureNamespace(kc, appNs);
  const started = await startAgents(IPS.length, (i) => IPS[i] as string);
  agents = started.agents;
  for (const [i, a] of agents.entries()) await createAgentPod(kc, agentNs, `agent-${i}`, a.ip, true);
  const r = await cp.kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'dnssync.io/v1alpha1', kind: 'DNSZone', metadata: { name: `v6-${suffix}` }, spec: { zone: `${ZONE}.` } }));
  if (r.code !== 0) throw new Error(r.stderr);
  ctl = await startController({ dir, name: 'ctl-v6', kubeconfig: cp.kubeconfig, ip: '127.0.59.100', transfer: `[::1]:${await freePort('::1')}`, agentNs, syncPort: started.syncPort, keyFile });
  await waitFor(async () => (await httpGet(ctl.metrics, '/readyz').catch(() => ({ status: 0 }))).status === 200 || (ctl.proc.assertRunning(), false), { what: 'controller /readyz', timeoutMs: 30_000 });
});

afterAll(async () => {
  await ctl?.proc.stop();
  for (const a of agents) await a.stop();
  await cp.kubectl(['delete', 'dnszone', `v6-${suffix}`, '--ignore-not-found']);
  for (const ns of [agentNs, appNs]) await cp.kubectl(['delete', 'namespace', ns, '--wait=false']);
  await exec('ip', ['-6', 'addr', 'del', `${IPS[1]}/128`, 'dev', 'lo']).catch(() => undefined);
});

describe('agents with IPv6 pod IPs', () => {
  it('get the zone and its changes, answer over IPv6, and count for Ready', async () => {
    const r = await cp.kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'dnssync.io/v1alpha1', kind: 'DNSRecord', metadata: { name: 'www', namespace: appNs }, spec: { name: `www.${ZONE}`, type: 'AAAA', values: ['2001:db8::1'] } }));
    expect(r.code, r.stderr).toBe(0);
    await waitFor(async () => {
      for (const a of agents) if ((await kdig(a.ip, a.dnsPort, `www.${ZONE}`, 'AAAA')).join() !== '2001:db8::1') return false;
      return true;
    }, { what: 'every IPv6 agent answers the record', timeoutMs: 15_000 });
    await waitFor(async () => (await condition('www', 'Ready'))?.message === `applied on ${IPS.length}/${IPS.length} nodes`, { what: 'Ready on every IPv6 agent', timeoutMs: 15_000 });
    await waitFor(() => agentsMatchApi(kc, agents, mine), { what: 'agents equal the API', timeoutMs: 10_000 });
  });
});
