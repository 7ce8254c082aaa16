/**
 * An agent restarted in place (issue 12, fault 1): same Pod, same address and ports, so
 * nothing changes in the API and the controller's endpoint list stays as it was. Real
 * processes: the controller CLI and two `dnssync agent` processes from dist/, on
 * 127.0.37.0/24, against the shared kube-apiserver.
 *
 * - With its state directory the agent serves its last good data from its first answer, and
 *   is not ready (/readyz) until the leader confirms it: restarted while no controller runs,
 *   it serves and stays not-ready; once a leader is back it becomes ready.
 * - Without state (lost, as on a wiped emptyDir) the controller's heartbeat notices, with no
 *   change in the API, and brings it back; statuses count it again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { uniqueNamespace } from '../controlplane/shared.js';
import { startControlPlane, type ControlPlane } from '../controlplane/controlplane.js';
import { freePort } from '../controlplane/ports.js';
import { waitFor } from '../util/wait.js';
import { createAgentPod, ensureNamespace, httpGet, kdig, startController, tempDir, writeKeyFile, type ControllerProcess } from './harness.js';
import { dnssync, type Proc } from '../sync/procs.js';

// A private control plane: a controller on the shared one would write the statuses of every
// other test file's records (and theirs ours), so "Ready on 2/2" would flip between views.
let cp: ControlPlane;
const suffix = Math.random().toString(36).slice(2, 7);
const ZONE = `rip-${suffix}.test`;
const agentNs = uniqueNamespace('rip-agents');
const appNs = uniqueNamespace('rip-app');
const CTL_IP = '127.0.37.100';

interface AgentProc {
  readonly ip: string;
  readonly dns: number;
  readonly metrics: number;
  readonly stateDir: string | undefined;
  proc: Proc;
}

let dir = '';
let keyFile = '';
let syncPort = 0;
let ctl: ControllerProcess | undefined;
let ctlTransfer = '';
const agents: AgentProc[] = [];
/** What www holds in the API now (the tests below run in order and change it once). */
let wwwValue = '10.37.0.1';

function spawnAgent(a: Omit<AgentProc, 'proc'>): Proc {
  // The state directory as the chart gives it (environment): a build without it ignores it.
  return dnssync(['agent', '--listen', `${a.ip}:${a.dns}`, '--sync-listen', `${a.ip}:${syncPort}`, '--metrics-listen', `${a.ip}:${a.metrics}`, '--tsig-key-file', keyFile], a.stateDir ? { DNSSYNC_STATE_DIR: a.stateDir } : undefined);
}

/** SIGKILL as an OOM kill does; else SIGTERM as the kubelet restarting a container does. */
async function restart(a: AgentProc, signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
  if (signal === 'SIGKILL') a.proc.child.kill('SIGKILL');
  await a.proc.stop();
  a.proc = spawnAgent(a);
}

async function readyz(a: AgentProc): Promise<number> {
  return (await httpGet(`${a.ip}:${a.metrics}`, '/readyz').catch(() => ({ status: 0 }))).status;
}

/** The agent's answer for www, or undefined while its DNS port is not up yet. */
async function www(a: AgentProc): Promise<string | undefined> {
  try {
    return (await kdig(a.ip, a.dns, `www.${ZONE}`, 'A')).join(',');
  } catch {
    return undefined;
  }
}

async function readyCondition(): Promise<string> {
  const r = await cp.kubectl(['get', 'dnsrecord', '-n', appNs, 'www', '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.nodes}']);
  return r.stdout;
}

async function startCtl(): Promise<ControllerProcess> {
  const c = await startController({ dir, name: `ctl-rip-${Date.now()}`, kubeconfig: cp.kubeconfig, ip: CTL_IP, agentNs, syncPort, keyFile, transfer: ctlTransfer });
  await waitFor(async () => (await httpGet(c.metrics, '/readyz').catch(() => ({ status: 0 }))).status === 200 || (c.proc.assertRunning(), false), { what: 'controller /readyz', timeoutMs: 30_000 });
  return c;
}

beforeAll(async () => {
  cp = await startControlPlane();
  const kc = cp.kubeConfig();
  dir = await tempDir('rip');
  keyFile = await writeKeyFile(dir);
  syncPort = await freePort('127.0.37.1');
  ctlTransfer = `${CTL_IP}:${await freePort(CTL_IP)}`;
  await ensureNamespace(kc, agentNs);
  await ensureNamespace(kc, appNs);
  for (const [i, withState] of [true, false].entries()) {
    const ip = `127.0.37.${i + 1}`;
    const a = { ip, dns: await freePort(ip), metrics: await freePort(ip), stateDir: withState ? join(dir, `state-${i}`) : undefined };
    agents.push({ ...a, proc: spawnAgent(a) });
    await createAgentPod(kc, agentNs, `agent-${i}`, ip, true);
  }
  const zone = { apiVersion: 'dnssync.io/v1alpha1', kind: 'DNSZone', metadata: { name: `rip-${suffix}` }, spec: { zone: `${ZONE}.`, soa: { refresh: 3600, retry: 60 } } };
  const rec = { apiVersion: 'dnssync.io/v1alpha1', kind: 'DNSRecord', metadata: { name: 'www', namespace: appNs }, spec: { name: `www.${ZONE}.`, type: 'A', values: ['10.37.0.1'] } };
  const r = await cp.kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [zone, rec] }));
  if (r.code !== 0) throw new Error(r.stderr);
  ctl = await startCtl();
  for (const a of agents) await waitFor(async () => (await www(a)) === '10.37.0.1', { what: `${a.ip} answers www`, timeoutMs: 20_000 });
  await waitFor(async () => (await readyCondition()) === 'True 2/2', { what: 'www Ready on 2/2', timeoutMs: 20_000 });
}, 120_000);

afterAll(async () => {
  await ctl?.proc.stop();
  for (const a of agents) await a.proc.stop();
  await cp?.stop();
});

describe('an agent restarted in place', () => {
  it('with its state directory: serves its last good data from the first answer, not ready until a leader confirms it', async () => {
    const a = agents[0] as AgentProc;
    await ctl?.proc.stop(); // no leader while it restarts
    ctl = undefined;
    await restart(a, 'SIGTERM');
    // Its very first answer is the data it held: never REFUSED/NXDOMAIN, never forwarded.
    const first = await waitFor(() => www(a), { what: 'restarted agent answering', timeoutMs: 20_000, intervalMs: 20 });
    expect(first).toBe('10.37.0.1');
    // Not ready: it could not confirm the zone with any leader (its check has failed once).
    await waitFor(() => /zone transfer failed|confirm/.test(a.proc.output()), { what: 'confirmation attempted', timeoutMs: 10_000 });
    expect(await readyz(a)).toBe(503);
    expect(await www(a)).toBe('10.37.0.1');

    const t0 = Date.now();
    ctl = await startCtl();
    await waitFor(async () => (await readyz(a)) === 200, { what: 'ready once the leader confirms', timeoutMs: 20_000 });
    console.log(`restart with state: ready ${Date.now() - t0} ms after the controller came back`);
    expect(await www(a)).toBe('10.37.0.1');
    await waitFor(async () => (await readyCondition()) === 'True 2/2', { what: 'www Ready on 2/2', timeoutMs: 20_000 });
  });

  it('with its state directory, killed (SIGKILL) once its zone is on disk: serves it from the first answer and converges', async () => {
    const a = agents[0] as AgentProc;
    const api = `www.${ZONE}`;
    // A change, then wait until it is on disk (written within a second of the sync).
    const r = await cp.kubectl(['patch', 'dnsrecord', '-n', appNs, 'www', '--type=merge', '-p', '{"spec":{"values":["10.37.0.2"]}}']);
    expect(r.code, r.stderr).toBe(0);
    wwwValue = '10.37.0.2';
    await waitFor(async () => (await www(a)) === '10.37.0.2', { what: `${api} changed on the agent`, timeoutMs: 20_000 });
    // Its own zone's file: the controller serves every DNSZone on the shared API server, so the
    // state directory also holds zones of test files running beside this one.
    const file = (): string | undefined => readdirSync(a.stateDir as string).find((f) => f.startsWith(encodeURIComponent(ZONE)) && f.endsWith('.zone.bin'));
    await waitFor(() => file() !== undefined && readFileSync(join(a.stateDir as string, file() as string)).includes(Buffer.from([10, 37, 0, 2])), { what: 'the change persisted', timeoutMs: 10_000 });
    await restart(a, 'SIGKILL');
    const first = await waitFor(() => www(a), { what: 'killed agent answering again', timeoutMs: 20_000, intervalMs: 20 });
    expect(first).toBe('10.37.0.2');
    await waitFor(async () => (await readyz(a)) === 200, { what: 'ready once the leader confirms', timeoutMs: 20_000 });
    await waitFor(async () => (await readyCondition()) === 'True 2/2', { what: 'www Ready on 2/2', timeoutMs: 20_000 });
  });

  it('without state: the controller notices with no API change and resyncs it within seconds', async () => {
    const b = agents[1] as AgentProc;
    const running = ctl as ControllerProcess;
    await restart(b, 'SIGKILL');
    const t0 = Date.now();
    await waitFor(async () => (await www(b)) !== undefined, { what: 'restarted agent answering', timeoutMs: 20_000, intervalMs: 20 });
    await waitFor(async () => (await www(b)) === wwwValue, { what: 'agent resynced by the heartbeat', timeoutMs: 20_000, intervalMs: 100 });
    const converged = Date.now() - t0;
    console.log(`restart without state: answers again ${converged} ms after restart`);
    expect(converged).toBeLessThan(15_000);
    await waitFor(async () => (await readyz(b)) === 200, { what: 'agent ready', timeoutMs: 10_000 });
    // The controller saw the drift and counts the agent again.
    const m = await httpGet(running.metrics, '/metrics');
    expect(m.body).toMatch(/^dnssync_sync_agent_drift_total [1-9]/m);
    await waitFor(async () => (await readyCondition()) === 'True 2/2', { what: 'www Ready on 2/2', timeoutMs: 20_000 });
  });
});

describe('a DNSZone deleted while no controller runs', () => {
  it('is dropped by every agent once a controller is back (the leader\'s catalog no longer lists it)', async () => {
    const GONE = `rip-gone-${suffix}.test`;
    // Long SOA timers: without the catalog only the next refresh, an hour on, would notice.
    const zone = { apiVersion: 'dnssync.io/v1alpha1', kind: 'DNSZone', metadata: { name: `rip-gone-${suffix}` }, spec: { zone: `${GONE}.`, soa: { refresh: 3600, retry: 600 } } };
    const rec = { apiVersion: 'dnssync.io/v1alpha1', kind: 'DNSRecord', metadata: { name: 'old', namespace: appNs }, spec: { name: `old.${GONE}.`, type: 'A', values: ['10.37.9.9'] } };
    const r = await cp.kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [zone, rec] }));
    expect(r.code, r.stderr).toBe(0);
    const old = async (a: AgentProc): Promise<string | undefined> => {
      try {
        return (await kdig(a.ip, a.dns, `old.${GONE}`, 'A')).join(',');
      } catch {
        return undefined;
      }
    };
    for (const a of agents) await waitFor(async () => (await old(a)) === '10.37.9.9', { what: `${a.ip} answers old.${GONE}`, timeoutMs: 20_000 });

    await ctl?.proc.stop();
    ctl = undefined;
    for (const kind of ['dnsrecord', 'dnszone']) {
      const d = await cp.kubectl(kind === 'dnsrecord' ? ['delete', kind, '-n', appNs, 'old'] : ['delete', kind, `rip-gone-${suffix}`]);
      expect(d.code, d.stderr).toBe(0);
    }
    ctl = await startCtl();
    const t0 = Date.now();
    for (const a of agents) {
      await waitFor(async () => {
        const v = await old(a);
        return v !== undefined && v !== '10.37.9.9';
      }, { what: `${a.ip} drops ${GONE} (today: served until its SOA refresh, an hour on)`, timeoutMs: 15_000, intervalMs: 100 });
    }
    console.log(`DNSZone deleted while no controller ran: dropped by both agents ${Date.now() - t0} ms after the controller was ready`);
    // The other zone is untouched, and both agents are ready.
    for (const a of agents) {
      expect(await www(a)).toBe(wwwValue);
      await waitFor(async () => (await readyz(a)) === 200, { what: `${a.ip} ready`, timeoutMs: 10_000 });
    }
  });
});

