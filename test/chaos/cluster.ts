/**
 * The process-level system the chaos suite breaks: a private kube-apiserver + etcd, two
 * leader-elected `dnssync controller` processes and three `dnssync agent` processes from
 * dist/, each agent with its state directory and behind its own bad network (path.ts: NAT,
 * loss, a hostile peer). Pods are written as a kubelet would, with the path's front address
 * as the Pod IP. Addresses: 127.0.88.0/24, used by no other test.
 */
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { startControlPlane, type ControlPlane } from '../controlplane/controlplane.js';
import { ManagedProcess } from '../controlplane/process.js';
import { freePort } from '../sync/procs.js';
import { waitFor } from '../util/wait.js';
import { createAgentPod, ensureNamespace, expectedZones, httpGet, mainJs, nodeBin, requireBuild, startController, tempDir, writeKeyFile, type ControllerProcess } from '../controller/harness.js';
import { AgentPath } from './path.js';
import { expectation, sweep, type AgentAddress, type SweepResult } from './compare.js';

export const NET = '127.0.88';
export const AGENT_NS = 'chaos-agents';
export const APP_NS = 'chaos-app';
export const ZONES = ['chaos-a.test', 'chaos-b.test'] as const;
/** Lease timings as in test/controller/faults.test.ts: a takeover within ~3 s. */
const ELECTION = ['--leader-elect', '--lease-namespace', AGENT_NS, '--lease-duration', '3s', '--renew-deadline', '2s', '--retry-period', '500ms'];

export interface ChaosAgent {
  readonly name: string;
  readonly ip: string;
  readonly dns: number;
  readonly metrics: number;
  readonly stateDir: string;
  readonly path: AgentPath;
  proc: ManagedProcess;
}

export interface ChaosController {
  readonly name: string;
  readonly ip: string;
  readonly transfer: string;
  ctl: ControllerProcess;
}

export class Cluster {
  cp!: ControlPlane;
  kc!: KubeConfig;
  dir = '';
  keyFile = '';
  syncPort = 0;
  readonly agents: ChaosAgent[] = [];
  readonly controllers: ChaosController[] = [];

  async start(): Promise<void> {
    requireBuild();
    this.cp = await startControlPlane();
    this.kc = this.cp.kubeConfig();
    this.dir = await tempDir('chaos');
    this.keyFile = await writeKeyFile(this.dir);
    await ensureNamespace(this.kc, AGENT_NS);
    await ensureNamespace(this.kc, APP_NS);
    const api = this.kc.makeApiClient(CustomObjectsApi);
    for (const z of ZONES) {
      await api.createClusterCustomObject({ group: 'dnssync.io', version: 'v1alpha1', plural: 'dnszones', body: { apiVersion: 'dnssync.io/v1alpha1', kind: 'DNSZone', metadata: { name: z.replace(/\./g, '-') }, spec: { zone: `${z}.`, soa: { refresh: 2, retry: 1 } } } });
    }
    this.syncPort = await freePort(`${NET}.1`);
    for (let i = 0; i < 3; i++) {
      const ip = `${NET}.${i + 1}`;
      const path = new AgentPath(`${NET}.${i + 11}`, this.syncPort, [`${NET}.${i + 21}`, `${NET}.${i + 31}`], { host: ip, port: this.syncPort }, 100 + i);
      await path.start();
      const a: Omit<ChaosAgent, 'proc'> = { name: `agent-${i}`, ip, dns: await freePort(ip), metrics: await freePort(ip), stateDir: join(this.dir, `state-${i}`), path };
      const agent = { ...a, proc: this.spawnAgent(a) };
      this.agents.push(agent);
      await this.agentUp(agent);
      await createAgentPod(this.kc, AGENT_NS, a.name, path.frontIp, true);
    }
    for (let i = 0; i < 2; i++) {
      const ip = `${NET}.${100 + i}`;
      const c: Omit<ChaosController, 'ctl'> = { name: `ctl-${i}`, ip, transfer: `${ip}:${await freePort(ip)}` };
      this.controllers.push({ ...c, ctl: await this.spawnController(c) });
    }
    await this.leader();
  }

  private spawnAgent(a: Omit<ChaosAgent, 'proc'>): ManagedProcess {
    return new ManagedProcess({
      name: a.name,
      command: nodeBin,
      args: [mainJs, 'agent', '--listen', `${a.ip}:${a.dns}`, '--sync-listen', `${a.ip}:${this.syncPort}`, '--metrics-listen', `${a.ip}:${a.metrics}`, '--tsig-key-file', this.keyFile, '--state-dir', a.stateDir],
      logFile: join(this.dir, `${a.name}.log`),
    });
  }

  async agentUp(a: ChaosAgent): Promise<void> {
    await waitFor(async () => (await httpGet(`${a.ip}:${a.metrics}`, '/healthz').catch(() => ({ status: 0 }))).status === 200 || (a.proc.assertRunning(), false), { what: `${a.name} /healthz`, timeoutMs: 30_000 });
  }

  /** SIGKILL, as an OOM kill does. */
  killAgent(a: ChaosAgent): void {
    a.proc.killGroupSync('SIGKILL');
  }

  /** Same Pod, same address and ports; the state directory kept unless `wipe`. */
  async restartAgent(a: ChaosAgent, wipe = false): Promise<void> {
    await a.proc.stop(0);
    if (wipe) await rm(a.stateDir, { recursive: true, force: true });
    a.proc = this.spawnAgent(a);
  }

  agentRssKb(a: ChaosAgent): number {
    try {
      return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${a.proc.pid}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      return 0;
    }
  }

  private spawnController(c: Omit<ChaosController, 'ctl'>): Promise<ControllerProcess> {
    return startController({ dir: this.dir, name: c.name, kubeconfig: this.cp.kubeconfig, ip: c.ip, agentNs: AGENT_NS, syncPort: this.syncPort, keyFile: this.keyFile, transfer: c.transfer, extra: ELECTION });
  }

  /** Restarts every controller that is not running (a SIGKILLed one comes back as a standby). */
  async reviveControllers(): Promise<void> {
    for (const c of this.controllers) if (!c.ctl.proc.running) c.ctl = await this.spawnController(c);
  }

  async isLeader(c: ChaosController): Promise<boolean> {
    if (!c.ctl.proc.running) return false;
    const m = await httpGet(c.ctl.metrics, '/metrics').catch(() => undefined);
    return m !== undefined && /^dnssync_leader 1$/m.test(m.body);
  }

  /** The controller that says it leads (waits for one). */
  async leader(exclude?: ChaosController, timeoutMs = 30_000): Promise<ChaosController> {
    return waitFor(
      async () => {
        for (const c of this.controllers) if (c !== exclude && (await this.isLeader(c))) return c;
        return undefined;
      },
      { what: 'a leader', timeoutMs, intervalMs: 100 },
    );
  }

  get addresses(): AgentAddress[] {
    return this.agents.map((a) => ({ name: a.name, host: a.ip, port: a.dns }));
  }

  /** One comparison of every agent against the API objects. */
  async check(universe: Iterable<string>, zonesEver: Iterable<string>): Promise<SweepResult> {
    const want = expectation(await expectedZones(this.kc));
    return sweep(this.addresses, want, universe, zonesEver);
  }

  async stop(): Promise<void> {
    for (const c of this.controllers) {
      c.ctl.proc.killGroupSync('SIGCONT'); // a stopped process would sit on SIGTERM
      await c.ctl.proc.stop();
    }
    for (const a of this.agents) {
      await a.proc.stop();
      await a.path.close();
    }
    await this.cp?.stop();
    // DNSSYNC_KEEP_CHAOS=1 keeps the logs (controllers', agents') for a look after a failure.
    if (this.dir && process.env['DNSSYNC_KEEP_CHAOS'] !== '1') await rm(this.dir, { recursive: true, force: true });
  }
}
