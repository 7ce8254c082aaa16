/**
 * The chart's wiring with the real programs: the controller runs with exactly the environment
 * the chart's Deployment gives it and the API rights its ServiceAccount gets (a token of that
 * account, not the admin), the agent with the DaemonSet's environment, the TSIG key from the
 * Secret the chart generates. Only what a Pod provides differently here is replaced: addresses
 * (loopback instead of the Pod network and the link-local IP), the in-cluster config (a
 * kubeconfig with the account's token) and the Secret mount (a file with the same content).
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../controlplane/assets.js';
import { freePort } from '../controlplane/ports.js';
import { ManagedProcess } from '../controlplane/process.js';
import { ownControlPlane } from '../controlplane/own.js';
import { uniqueNamespace } from '../controlplane/shared.js';
import { requireCurrentDist } from '../util/dist.js';
import { waitFor } from '../util/wait.js';
import { find, render, type K8sObject } from './helm.js';

const execFileP = promisify(execFile);
// Its own API server: the chart's controller watches every namespace, and on the shared one
// it would push every other file's zones to its agent and write their records' statuses.
const cp = ownControlPlane();
const kubectl = cp.kubectl;
const CONTROLLER_IP = '127.0.80.20';
const AGENT_IP = '127.0.80.21';
const mainJs = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const nodeBin = process.execPath;

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}
interface Workload extends K8sObject {
  spec: { template: { metadata: { labels: Record<string, string> }; spec: { containers: { env: EnvVar[]; args: string[] }[] } } };
}

/** The environment a kubelet would give the container: fieldRefs resolved, $(VAR) expanded in order. */
function containerEnv(env: readonly EnvVar[], fields: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of env) {
    if (e.valueFrom) {
      const path = e.valueFrom.fieldRef?.fieldPath;
      const v = path === undefined ? undefined : fields[path];
      if (v === undefined) throw new Error(`${e.name}: unsupported valueFrom ${JSON.stringify(e.valueFrom)}`);
      out[e.name] = v;
    } else {
      out[e.name] = (e.value ?? '').replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, n: string) => out[n] ?? m);
    }
  }
  return out;
}

describe('the chart wired to the real controller and agent', () => {
  const rand = Math.random().toString(36).slice(2, 7);
  const release = `wired-${rand}`;
  const zone = `${rand}.wired.test`;
  let ns = '';
  let dir = '';
  let controller: ManagedProcess | undefined;
  let agent: ManagedProcess | undefined;
  let controllerMetrics = '';
  let clusterScoped: string[] = [];
  const podName = `${release}-controller-7d9f-abcde`;

  beforeAll(async () => {
    requireCurrentDist();
    dir = await mkdtemp(join(tmpdir(), 'dnssync-wired-'));
    ns = uniqueNamespace('deploy-wired');
    expect((await kubectl(['create', 'namespace', ns])).code).toBe(0);
    const { yaml, objects } = await render('defaults', { namespace: ns, release });
    // Everything except the workloads (no kubelet here) and the CRDs (already installed).
    const docs = yaml.split(/^---\s*$/m).filter((d) => /^kind:\s*(ServiceAccount|ClusterRole|ClusterRoleBinding|Role|RoleBinding|Secret)\s*$/m.test(d));
    const applied = await kubectl(['apply', '-f', '-'], docs.join('\n---\n'));
    expect(applied.code, applied.stderr).toBe(0);
    clusterScoped = objects.filter((o) => o.kind.startsWith('Cluster')).map((o) => `${o.kind.toLowerCase()}/${o.metadata.name}`);

    // The Secret mount: the key file as the API server holds it.
    const secret = find(objects, 'Secret', '-tsig');
    const data = await kubectl(['get', 'secret', secret.metadata.name, '-n', ns, '-o', 'jsonpath={.data.tsig\\.key}']);
    const keyFile = join(dir, 'tsig.key');
    await writeFile(keyFile, Buffer.from(data.stdout, 'base64'));

    // In-cluster config: the controller ServiceAccount's token.
    const sa = find(objects, 'ServiceAccount', '-controller').metadata.name;
    const token = await kubectl(['create', 'token', sa, '-n', ns, '--duration=1h']);
    expect(token.code, token.stderr).toBe(0);
    const cluster = cp.kubeConfig().getCurrentCluster();
    const ca = cluster?.caData ?? (cluster?.caFile ? (await readFile(cluster.caFile)).toString('base64') : '');
    const kubeconfig = join(dir, 'kubeconfig-controller');
    await writeFile(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1', kind: 'Config', 'current-context': 'sa',
        clusters: [{ name: 'c', cluster: { server: cp.server, 'certificate-authority-data': ca } }],
        users: [{ name: 'sa', user: { token: token.stdout.trim() } }],
        contexts: [{ name: 'sa', context: { cluster: 'c', user: 'sa' } }],
      }),
    );

    // The agent Pod as the DaemonSet would create it, with the status a kubelet would write.
    const ds = find(objects, 'DaemonSet') as Workload;
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: `${release}-agent-node1`, namespace: ns, labels: ds.spec.template.metadata.labels }, spec: { hostNetwork: true, automountServiceAccountToken: false, containers: [{ name: 'agent', image: 'dnssync:test' }] } };
    expect((await kubectl(['apply', '-f', '-'], JSON.stringify(pod))).code).toBe(0);
    const status = { status: { phase: 'Running', podIP: AGENT_IP, podIPs: [{ ip: AGENT_IP }], hostIP: AGENT_IP, conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: new Date().toISOString() }] } };
    const patched = await kubectl(['patch', 'pod', pod.metadata.name, '-n', ns, '--subresource=status', '--type=merge', '-p', JSON.stringify(status)]);
    expect(patched.code, patched.stderr).toBe(0);

    const agentContainer = ds.spec.template.spec.containers[0];
    const agentEnv: Record<string, string> = {
      ...containerEnv(agentContainer?.env ?? [], { 'status.podIP': AGENT_IP, 'spec.nodeName': 'node1' }),
      DNSSYNC_LISTEN: `${AGENT_IP}:53`, // the chart's 169.254.20.10:53
      DNSSYNC_TSIG_KEY_FILE: keyFile,
      DNSSYNC_STATE_DIR: join(dir, 'agent-state'), // the chart's emptyDir at /var/lib/dnssync
      // The chart's hostPath /run/dnssync is one per machine: another run's agent there would
      // take this one's sync port over (seen: "an older agent serves this node").
      DNSSYNC_HANDOVER_DIR: join(dir, 'handover'),
    };
    // Transparent mode asks a kube-dns for kube-dns-upstream, and this control plane has none
    // (test/node-net/transparent.test.ts runs that part beside a stand-in kube-dns).
    expect(agentEnv['DNSSYNC_UPSTREAM_SERVICE']).toBe('kube-dns-upstream.kube-system.svc.cluster.local:53');
    delete agentEnv['DNSSYNC_UPSTREAM_SERVICE'];
    delete agentEnv['DNSSYNC_UPSTREAM_RESOLVER'];
    expect(agentEnv.DNSSYNC_SYNC_LISTEN).toBe(`${AGENT_IP}:5354`);
    expect(containerEnv(agentContainer?.env ?? [], { 'status.podIP': AGENT_IP, 'spec.nodeName': 'node1' })['DNSSYNC_STATE_DIR']).toBe('/var/lib/dnssync');
    expect(containerEnv(agentContainer?.env ?? [], { 'status.podIP': AGENT_IP, 'spec.nodeName': 'node1' })['DNSSYNC_HANDOVER_DIR']).toBe('/run/dnssync');
    agent = new ManagedProcess({ name: 'agent', command: nodeBin, args: [mainJs, ...(agentContainer?.args ?? [])], logFile: join(dir, 'agent.log'), env: { PATH: process.env['PATH'], ...agentEnv } });

    const dep = find(objects, 'Deployment', '-controller') as Workload;
    const c = dep.spec.template.spec.containers[0];
    controllerMetrics = `${CONTROLLER_IP}:${await freePort(CONTROLLER_IP)}`;
    const chartControllerEnv = containerEnv(c?.env ?? [], { 'metadata.name': podName, 'metadata.namespace': ns, 'status.podIP': CONTROLLER_IP });
    // The chart advertises the Pod IP at the transfer port; here the port is a free one.
    expect(chartControllerEnv['DNSSYNC_TRANSFER_ADVERTISE']).toBe(`[${CONTROLLER_IP}]:5354`);
    const transferPort = await freePort(CONTROLLER_IP);
    const controllerEnv = {
      ...chartControllerEnv,
      DNSSYNC_TRANSFER_LISTEN: `${CONTROLLER_IP}:${transferPort}`, // the chart's 0.0.0.0:5354
      DNSSYNC_TRANSFER_ADVERTISE: `[${CONTROLLER_IP}]:${transferPort}`,
      DNSSYNC_METRICS_LISTEN: controllerMetrics,
      DNSSYNC_TSIG_KEY_FILE: keyFile,
      DNSSYNC_KUBECONFIG: kubeconfig,
    };
    controller = new ManagedProcess({ name: 'controller', command: nodeBin, args: [mainJs, ...(c?.args ?? [])], logFile: join(dir, 'controller.log'), env: { PATH: process.env['PATH'], ...controllerEnv } });

    const z = { apiVersion: 'dnssync.io/v1alpha1', kind: 'DNSZone', metadata: { name: `wired-${rand}` }, spec: { zone: `${zone}.`, defaultTTL: 30, namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } } } };
    const r = { apiVersion: 'dnssync.io/v1alpha1', kind: 'DNSRecord', metadata: { name: 'www', namespace: ns }, spec: { name: `www.${zone}.`, type: 'A', values: ['10.80.0.1'] } };
    const created = await kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [z, r] }));
    expect(created.code, created.stderr).toBe(0);
    clusterScoped.push(`dnszone.dnssync.io/wired-${rand}`);
  }, 120_000);

  afterAll(async () => {
    await controller?.stop();
    await agent?.stop();
    if (clusterScoped.length > 0) await kubectl(['delete', '--ignore-not-found', ...clusterScoped]);
  });

  it('the record reaches the agent and is answered on its DNS address', async () => {
    const answer = await waitFor(
      async () => {
        controller?.assertRunning();
        agent?.assertRunning();
        const r = await execFileP('kdig', [`@${AGENT_IP}`, '-p', '53', '+short', '+timeout=1', '+retry=0', `www.${zone}`, 'A']).catch(() => ({ stdout: '' }));
        return r.stdout.trim() === '10.80.0.1' ? r.stdout.trim() : undefined;
      },
      { timeoutMs: 45_000, intervalMs: 250, what: `www.${zone} answered by the agent (logs in ${dir})` },
    );
    expect(answer).toBe('10.80.0.1');
  });

  it('the controller leads through its Lease, under the Pod name, with only the chart RBAC', async () => {
    const holder = await waitFor(
      async () => {
        const r = await kubectl(['get', 'lease', 'dnssync-controller', '-n', ns, '-o', 'jsonpath={.spec.holderIdentity}']);
        return r.code === 0 && r.stdout !== '' ? r.stdout : undefined;
      },
      { timeoutMs: 30_000, what: 'the leader Lease' },
    );
    expect(holder).toBe(podName);
  });

  it('status writes succeed and nothing was forbidden', async () => {
    const ok = await waitFor(
      async () => {
        const m = await (await fetch(`http://${controllerMetrics}/metrics`)).text();
        const line = /^dnssync_status_writes_total\{kind="DNSRecord",result="ok"\} (\d+)/m.exec(m);
        return line && Number(line[1]) > 0 ? m : undefined;
      },
      { timeoutMs: 30_000, what: 'a successful DNSRecord status write' },
    );
    expect(ok).not.toMatch(/^dnssync_status_writes_total\{[^}]*result="error"\} [1-9]/m);
    const log = await readFile(join(dir, 'controller.log'), 'utf8');
    expect(log).not.toMatch(/forbidden|\b403\b/i);
    const ready = await waitFor(
      async () => {
        const r = await kubectl(['get', 'dnsrecord', 'www', '-n', ns, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].message}']);
        return /applied on 1\/1 nodes/.test(r.stdout) ? r.stdout : undefined;
      },
      { timeoutMs: 30_000, what: 'Ready: applied on 1/1 nodes' },
    );
    expect(ready).toMatch(/1\/1/);
  });
});
