/**
 * Each node's state with kubectl-only tools: the DNSZone status lists the agents behind the
 * zone's serial (node, serial held, since when, last error) and `dnssync status` prints it as a
 * table. A private real kube-apiserver, the real controller CLI, two agents on 127.0.61.1-2 with Pods on
 * two "nodes" (spec.nodeName). One agent is stopped while its Pod stays Ready: a change then
 * cannot reach it, and both views must name it, its node, the serial it still holds and why;
 * once it is back, neither lists it.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeConfig } from '@kubernetes/client-node';
import { startControlPlane, type ControlPlane } from '../controlplane/controlplane.js';
import { uniqueNamespace } from '../controlplane/shared.js';
import { waitFor } from '../util/wait.js';
import { ensureNamespace, httpGet, mainJs, nodeBin, setPodStatus, startAgents, startController, tempDir, writeKeyFile, type ControllerProcess, type TestAgent } from './harness.js';

const exec = promisify(execFile);
// A private API server: controllers of other test files running beside this one would write
// their own view of every zone's status (their agents, their counts) over ours.
let cp: ControlPlane;
let kc: KubeConfig;
const suffix = Math.random().toString(36).slice(2, 7);
const ZONE_OBJ = `st-${suffix}`;
const ZONE = `st-${suffix}.test`;
const agentNs = uniqueNamespace('st-agents');
const appNs = uniqueNamespace('st-app');
let agents: TestAgent[] = [];
let ctl: ControllerProcess;

async function apply(obj: unknown): Promise<void> {
  const r = await cp.kubectl(['apply', '-f', '-'], JSON.stringify(obj));
  if (r.code !== 0) throw new Error(`kubectl apply: ${r.stderr}`);
}

const record = (name: string, ip: string): unknown => ({ apiVersion: 'dnssync.io/v1alpha1', kind: 'DNSRecord', metadata: { name, namespace: appNs }, spec: { name: `${name}.${ZONE}`, type: 'A', values: [ip] } });

async function status(): Promise<string> {
  const r = await exec(nodeBin, [mainJs, 'status', '--kubeconfig', cp.kubeconfig, '--zone', ZONE_OBJ]);
  return r.stdout;
}

async function zoneSerial(): Promise<number | undefined> {
  const r = await cp.kubectl(['get', 'dnszone', ZONE_OBJ, '-o', 'jsonpath={.status.serial}']);
  return r.stdout === '' ? undefined : Number(r.stdout);
}

beforeAll(async () => {
  cp = await startControlPlane();
  kc = cp.kubeConfig();
  const dir = await tempDir('status-cli');
  const keyFile = await writeKeyFile(dir);
  await ensureNamespace(kc, agentNs);
  await ensureNamespace(kc, appNs);
  const started = await startAgents(2, (i) => `127.0.61.${i + 1}`);
  agents = started.agents;
  const core = kc.makeApiClient(CoreV1Api);
  for (const [i, a] of agents.entries()) {
    await core.createNamespacedPod({
      namespace: agentNs,
      body: { metadata: { name: `agent-${i}`, labels: { 'app.kubernetes.io/name': 'dnssync-agent' } }, spec: { nodeName: `node-${'ab'[i]}`, containers: [{ name: 'agent', image: 'dnssync:test' }], automountServiceAccountToken: false } },
    });
    await setPodStatus(kc, agentNs, `agent-${i}`, a.ip, true);
  }
  await apply({ apiVersion: 'dnssync.io/v1alpha1', kind: 'DNSZone', metadata: { name: ZONE_OBJ }, spec: { zone: `${ZONE}.`, soa: { refresh: 1, retry: 1 } } });
  await apply(record('one', '10.0.0.1'));
  ctl = await startController({ dir, name: 'ctl-status', kubeconfig: cp.kubeconfig, ip: '127.0.61.100', agentNs, syncPort: started.syncPort, keyFile, extra: ['--behind-after', '1s'] });
  await waitFor(async () => (await httpGet(ctl.metrics, '/readyz').catch(() => ({ status: 0 }))).status === 200 || (ctl.proc.assertRunning(), false), { what: 'controller /readyz', timeoutMs: 30_000 });
});

afterAll(async () => {
  await ctl?.proc.stop();
  for (const a of agents) await a.stop();
  await cp?.stop();
});

describe('dnssync status and DNSZone status: which node is behind', () => {
  it('names the stopped agent, its node, the serial it holds, its lag and why; clears it once it is back', async () => {
    // In sync: 2/2, nobody behind.
    const first = await waitFor(
      async () => {
        const s = await zoneSerial();
        const text = await status();
        return s !== undefined && new RegExp(`^${ZONE.replace(/\./g, '\\.')}\\.\\s+${s}\\s+2/2\\s+True\\s+0$`, 'm').test(text) ? { s, text } : undefined;
      },
      { what: 'zone at 2/2 with none behind', timeoutMs: 20_000 },
    );
    expect(first.text).toContain('No agent is behind');
    expect(agents.map((a) => a.serial(ZONE))).toEqual([first.s, first.s]);

    // agent-1 stops answering; its Pod stays Ready. A change cannot reach it.
    await agents[1]?.stop();
    await apply(record('two', '10.0.0.2'));
    const behind = await waitFor(
      async () => {
        const text = await status();
        return /no answer to \d+ NOTIFYs/.test(text) ? text : undefined;
      },
      { what: 'agent-1 listed as behind with its last error', timeoutMs: 20_000 },
    );
    const serialNow = await zoneSerial();
    expect(serialNow).not.toBe(first.s);
    // The zone line: 1 of 2 ready agents holds the serial, 1 behind.
    expect(behind).toMatch(new RegExp(`^${ZONE.replace(/\./g, '\\.')}\\.\\s+${serialNow}\\s+1/2\\s+False\\s+1$`, 'm'));
    // The agent line: pod, node, zone, the serial it still holds, a lag, Ready, the error.
    expect(behind).toMatch(new RegExp(`^${agentNs}/agent-1\\s+node-b\\s+${ZONE.replace(/\./g, '\\.')}\\.\\s+${first.s}\\s+\\d+s\\s+true\\s+no answer to \\d+ NOTIFYs for the current change$`, 'm'));
    expect(behind).not.toContain(`${agentNs}/agent-0`);
    // The same with kubectl alone.
    const raw = await cp.kubectl(['get', 'dnszone', ZONE_OBJ, '-o', 'jsonpath={.status.behind.count} {.status.behind.agents[0].agent} {.status.behind.agents[0].node} {.status.behind.agents[0].serial}']);
    expect(raw.stdout).toBe(`1 ${agentNs}/agent-1 node-b ${first.s}`);
    const wide = (await cp.kubectl(['get', 'dnszone', ZONE_OBJ, '-o', 'wide'])).stdout.trim().split('\n').map((l) => l.split(/\s+/));
    expect(wide[1]?.[wide[0]?.indexOf('BEHIND') ?? -1]).toBe('1');

    // Back (empty, as a restarted agent): brought up to date, no longer listed.
    await agents[1]?.start();
    await waitFor(
      async () => {
        const text = await status();
        return new RegExp(`\\s2/2\\s+True\\s+0$`, 'm').test(text) && text.includes('No agent is behind');
      },
      { what: 'agent-1 caught up and no longer listed', timeoutMs: 30_000 },
    );
    expect(agents.map((a) => a.serial(ZONE))).toEqual([serialNow, serialNow]);
  });

  it('bad flags: one line naming the flag, exit 2', async () => {
    const r = await exec(nodeBin, [mainJs, 'status', '--output', 'yaml']).catch((e: { code: number; stderr: string }) => e);
    expect(r).toMatchObject({ code: 2, stderr: "dnssync status: --output: 'yaml' is not table or json\n" });
    const k = await exec(nodeBin, [mainJs, 'status', '--kubeconfig', '/nonexistent/kubeconfig']).catch((e: { code: number; stderr: string }) => e);
    expect(k).toMatchObject({ code: 2 });
    expect((k as { stderr: string }).stderr).toMatch(/^dnssync status: --kubeconfig: .*nonexistent.*\n$/);
  });
});
