/**
 * End-to-end fixtures for the controller: agents (in-process DNS server + sync secondary on
 * their own loopback address, with a Pod object whose status a "kubelet" — this file — sets),
 * controller processes running the real CLI from dist/, and helpers to read what an agent
 * holds and what the API says it should hold.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { Agent } from '../../src/agent/agent.js';
import { formatKeyFile, type TsigKey } from '../../src/dns/tsig.js';
import type { RR } from '../../src/dns/rr.js';
import { Secondary } from '../../src/sync/secondary.js';
import { ZoneStore } from '../../src/zone/store.js';
import { freePort } from '../controlplane/ports.js';
import { ManagedProcess } from '../controlplane/process.js';
import { repoRoot } from '../controlplane/assets.js';
import { requireCurrentDist } from '../util/dist.js';
import { expectedFromObjects, type ApiNamespace, type ApiRecord, type ApiZone } from './oracle.js';
import { recordKey as rdataRecordKey } from '../../src/dns/rdata.js';

export const TSIG_KEY: TsigKey = { name: 'dnssync-test', algorithm: 'hmac-sha256', secret: Buffer.from('0123456789abcdef0123456789abcdef') };

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `dnssync-${prefix}-`));
}

export async function writeKeyFile(dir: string): Promise<string> {
  const path = join(dir, 'tsig.key');
  await writeFile(path, formatKeyFile(TSIG_KEY));
  return path;
}

// ---- agents ---------------------------------------------------------------------------------

export class TestAgent {
  private agent: Agent | undefined;
  private secondary: Secondary | undefined;
  store = new ZoneStore();
  dnsPort = 0;

  constructor(
    readonly name: string,
    readonly ip: string,
    readonly syncPort: number,
  ) {}

  get running(): boolean {
    return this.agent !== undefined;
  }

  /** Starts with an empty store, as a restarted process would. */
  async start(): Promise<void> {
    this.store = new ZoneStore();
    this.agent = await Agent.start({ listen: [{ host: this.ip, port: this.dnsPort }], upstreams: [], store: this.store });
    this.dnsPort = this.agent.addresses[0]?.port ?? 0;
    this.secondary = await Secondary.start({ store: this.store, host: this.ip, port: this.syncPort, keys: [TSIG_KEY], refreshMs: 2000 });
  }

  async stop(): Promise<void> {
    await this.secondary?.close();
    await this.agent?.stop(0);
    this.secondary = undefined;
    this.agent = undefined;
  }

  /** Every record this agent holds for `origin`, as sorted comparable strings (SOA left out). */
  records(origin: string): string[] | undefined {
    const z = this.store.get(origin);
    if (!z) return undefined;
    return [...z.records()].filter((r) => r.type !== 'SOA').map(rrString).sort();
  }

  zones(): string[] {
    return this.store.origins();
  }

  serial(origin: string): number | undefined {
    return this.store.get(origin)?.serial;
  }
}

export function rrString(rr: RR): string {
  return `${rdataRecordKey(rr)} ttl=${rr.ttl}`;
}

/**
 * Agents share one sync port, as a DaemonSet's do (the controller's --agent-sync-port);
 * each has its own address, so the port only needs to be free on the first.
 */
export async function startAgents(n: number, ipOf: (i: number) => string, syncPort?: number): Promise<{ agents: TestAgent[]; syncPort: number }> {
  const port = syncPort ?? (await freePort(ipOf(0)));
  const agents: TestAgent[] = [];
  for (let i = 0; i < n; i++) {
    const a = new TestAgent(`agent-${i}`, ipOf(i), port);
    await a.start();
    agents.push(a);
  }
  return { agents, syncPort: port };
}

// ---- pods, as a kubelet would write them ----------------------------------------------------

export const AGENT_LABEL = 'app.kubernetes.io/name=dnssync-agent';

export async function ensureNamespace(kc: KubeConfig, ns: string, labels: Record<string, string> = {}): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  try {
    await core.createNamespace({ body: { metadata: { name: ns, labels } } });
  } catch (err) {
    if ((err as { code?: number }).code !== 409) throw err;
  }
  try {
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'default' } } });
  } catch (err) {
    if ((err as { code?: number }).code !== 409) throw err;
  }
}

export async function createAgentPod(kc: KubeConfig, ns: string, name: string, ip: string | undefined, ready: boolean): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  try {
    await core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name, labels: { 'app.kubernetes.io/name': 'dnssync-agent' } },
        spec: { containers: [{ name: 'agent', image: 'dnssync:test' }], automountServiceAccountToken: false },
      },
    });
  } catch (err) {
    if ((err as { code?: number }).code !== 409) throw err;
  }
  await setPodStatus(kc, ns, name, ip, ready);
}

export async function setPodStatus(kc: KubeConfig, ns: string, name: string, ip: string | undefined, ready: boolean): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const now = new Date().toISOString();
  await core.patchNamespacedPodStatus(
    {
      namespace: ns,
      name,
      body: {
        status: {
          phase: 'Running',
          ...(ip ? { podIP: ip, podIPs: [{ ip }] } : {}),
          conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: now }],
        },
      },
    },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
}

export async function deletePod(kc: KubeConfig, ns: string, name: string): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await core.deleteNamespacedPod({ namespace: ns, name, gracePeriodSeconds: 0 });
}

// ---- controllers (the real CLI) ---------------------------------------------------------------

export const mainJs = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
export const nodeBin = join(repoRoot, 'node_modules', '.bin', 'node');

/** dist/ built by `make build` after the last edit (see test/util/dist.ts). */
export function requireBuild(): void {
  requireCurrentDist();
}

export interface ControllerProcess {
  readonly proc: ManagedProcess;
  readonly transfer: string;
  readonly metrics: string;
  readonly logFile: string;
}

export async function startController(opts: { dir: string; name: string; kubeconfig: string; ip: string; agentNs: string; syncPort: number; keyFile: string; transfer?: string; extra?: readonly string[]; env?: Readonly<Record<string, string>> }): Promise<ControllerProcess> {
  requireBuild();
  const transfer = opts.transfer ?? `${opts.ip}:${await freePort(opts.ip)}`;
  const metrics = `${opts.ip}:${await freePort(opts.ip)}`;
  const logFile = join(opts.dir, `${opts.name}.log`);
  const proc = new ManagedProcess({
    name: opts.name,
    command: nodeBin,
    args: [mainJs, 'controller', '--kubeconfig', opts.kubeconfig, '--transfer-listen', transfer, '--metrics-listen', metrics, '--agent-namespace', opts.agentNs, '--agent-sync-port', String(opts.syncPort), '--tsig-key-file', opts.keyFile, '--identity', opts.name, ...(opts.extra ?? [])],
    logFile,
    ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}),
  });
  return { proc, transfer, metrics, logFile };
}

export async function httpGet(hostPort: string, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://${hostPort}${path}`);
  return { status: res.status, body: await res.text() };
}

// ---- what the API says every agent must hold --------------------------------------------------

/**
 * From the objects in the API (one list each of DNSZones, DNSRecords and Namespaces), the
 * records each served zone must hold, by the documented rules in oracle.ts — not by the
 * controller's own reconcile. `scope` keeps only some zones (the shared API server also holds
 * other test files' zones).
 */
export async function expectedZones(kc: KubeConfig, scope: (origin: string) => boolean = () => true): Promise<Map<string, string[]>> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const zones = (await api.listClusterCustomObject({ group: 'dnssync.io', version: 'v1alpha1', plural: 'dnszones' })) as { items: ApiZone[] };
  const records = (await api.listClusterCustomObject({ group: 'dnssync.io', version: 'v1alpha1', plural: 'dnsrecords' })) as { items: ApiRecord[] };
  const namespaces = (await kc.makeApiClient(CoreV1Api).listNamespace()).items as ApiNamespace[];
  const all = expectedFromObjects(zones.items, records.items, namespaces);
  return new Map([...all].filter(([origin]) => scope(origin)));
}

/** What an agent holds, as agentsDiffer reads it. */
export interface HeldZones {
  readonly name: string;
  zones(): string[];
  records(origin: string): string[] | undefined;
}

/**
 * Undefined when every agent holds exactly `expected` (within `scope`): no zone missing, no
 * zone more, and in each zone no record missing and none more. Otherwise what differs.
 */
export function agentsDiffer(agents: readonly HeldZones[], expected: ReadonlyMap<string, string[]>, scope: (origin: string) => boolean = () => true): string | undefined {
  for (const a of agents) {
    const extraZones = a.zones().filter((o) => scope(o) && !expected.has(o));
    if (extraZones.length > 0) return `${a.name} holds zone(s) the API does not: ${JSON.stringify(extraZones)}`;
    for (const [origin, want] of expected) {
      const have = a.records(origin);
      if (!have) return `${a.name} lacks zone ${origin}`;
      if (have.length !== want.length || have.some((r, i) => r !== want[i])) {
        const missing = want.filter((r) => !have.includes(r)).slice(0, 3);
        const extra = have.filter((r) => !want.includes(r)).slice(0, 3);
        return `${a.name} zone ${origin}: ${have.length} records, want ${want.length}; missing ${JSON.stringify(missing)} extra ${JSON.stringify(extra)}`;
      }
    }
  }
  return undefined;
}

/**
 * True when every agent holds exactly what the API's objects say (within `scope`); otherwise
 * it throws what differs, which waitFor keeps as its last error, so a wait that times out
 * names the difference.
 */
export async function agentsMatchApi(kc: KubeConfig, agents: readonly HeldZones[], scope: (origin: string) => boolean = () => true): Promise<true> {
  const problem = agentsDiffer(agents, await expectedZones(kc, scope), scope);
  if (problem) throw new Error(problem);
  return true;
}

// ---- kdig -----------------------------------------------------------------------------------

export function kdig(server: string, port: number, name: string, type: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile('kdig', [`@${server}`, '-p', String(port), name, type, '+short', '+timeout=2', '+retry=1'], { timeout: 10_000 }, (err, stdout) => {
      if (err) reject(err);
      else resolve(stdout.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith(';')).sort());
    });
  });
}

export function kdigStatus(server: string, port: number, name: string, type: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('kdig', [`@${server}`, '-p', String(port), name, type, '+timeout=2', '+retry=1'], { timeout: 10_000 }, (err, stdout) => {
      if (err) reject(err);
      else resolve(/status: (\w+)/.exec(stdout)?.[1] ?? 'NONE');
    });
  });
}
