/**
 * `make demo`: the whole product on one machine. A local kube-apiserver + etcd, three agents
 * as processes on 127.0.100.1-3 (each with a Pod object whose status.podIP and Ready
 * condition this script sets, as a kubelet would), two controller replicas electing a leader,
 * and the sample objects from deploy/examples/. Prints what to type next; Ctrl-C stops all.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startControlPlane, type ControlPlane } from '../controlplane/controlplane.js';
import { repoRoot, kubectlPath } from '../controlplane/assets.js';
import { runKubectl } from '../controlplane/kubectl.js';
import { freePort } from '../controlplane/ports.js';
import { ManagedProcess } from '../controlplane/process.js';
import { waitFor } from '../util/wait.js';
import { formatKeyFile } from '../../src/dns/tsig.js';
import { createAgentPod, ensureNamespace, httpGet, mainJs, nodeBin, requireBuild } from '../controller/harness.js';

const AGENT_IPS = ['127.0.100.1', '127.0.100.2', '127.0.100.3'];
const CONTROLLER_IPS = ['127.0.100.11', '127.0.100.12'];
const TOTAL = 7;
let stepNo = 0;

function indent(text: string): string {
  return text.trimEnd().replace(/^/gm, '        ') + '\n';
}

function step(msg: string): void {
  stepNo++;
  console.log(`[demo ${stepNo}/${TOTAL}] ${msg}`);
}

const procs: ManagedProcess[] = [];
let cp: ControlPlane | undefined;
let stopping = false;

async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log('\n[demo] stopping controllers, agents and the control plane ...');
  await Promise.all(procs.map((p) => p.stop(3000)));
  await cp?.stop();
  console.log('[demo] stopped.');
  process.exit(code);
}

async function main(): Promise<void> {
  requireBuild();
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));

  step('starting a local control plane (etcd + kube-apiserver; first run builds them, then cached)');
  cp = await startControlPlane();
  const kc = cp.kubeConfig();
  const kubectl = (args: string[]): ReturnType<typeof runKubectl> => runKubectl({ kubeconfig: (cp as ControlPlane).kubeconfig, assets: (cp as ControlPlane).assets, args });
  console.log(`        API server ${cp.server}; logs in ${cp.dir}`);

  step('TSIG key and the agent namespace');
  const keyFile = join(cp.dir, 'tsig.key');
  await writeFile(keyFile, formatKeyFile({ name: 'dnssync-demo', algorithm: 'hmac-sha256', secret: randomBytes(32) }), { mode: 0o600 });
  await ensureNamespace(kc, 'dnssync');

  step(`three agents on ${AGENT_IPS.join(', ')}, each with a Pod (status.podIP + Ready set as a kubelet would)`);
  const dnsPort = await freePort(AGENT_IPS[0]);
  const syncPort = await freePort(AGENT_IPS[0]);
  for (const [i, ip] of AGENT_IPS.entries()) {
    const metrics = `${ip}:${await freePort(ip)}`;
    const p = new ManagedProcess({
      name: `agent-${i}`,
      command: nodeBin,
      args: [mainJs, 'agent', '--listen', `${ip}:${dnsPort}`, '--sync-listen', `${ip}:${syncPort}`, '--tsig-key-file', keyFile, '--metrics-listen', metrics],
      logFile: join(cp.dir, `agent-${i}.log`),
    });
    procs.push(p);
    await waitFor(async () => (p.assertRunning(), (await httpGet(metrics, '/healthz').catch(() => ({ status: 0 }))).status === 200), { what: `agent-${i} up`, timeoutMs: 30_000 });
    await createAgentPod(kc, 'dnssync', `dnssync-agent-${i}`, ip, true);
  }

  step('two controller replicas with leader election on a Lease');
  const metricsAddrs: string[] = [];
  for (const [i, ip] of CONTROLLER_IPS.entries()) {
    const metrics = `${ip}:${await freePort(ip)}`;
    metricsAddrs.push(metrics);
    procs.push(
      new ManagedProcess({
        name: `controller-${i}`,
        command: nodeBin,
        args: [mainJs, 'controller', '--kubeconfig', cp.kubeconfig, '--transfer-listen', `${ip}:${await freePort(ip)}`, '--agent-namespace', 'dnssync', '--agent-sync-port', String(syncPort), '--tsig-key-file', keyFile, '--metrics-listen', metrics, '--leader-elect', '--identity', `controller-${i}`, '--lease-duration', '6s', '--renew-deadline', '4s', '--retry-period', '1s'],
        logFile: join(cp.dir, `controller-${i}.log`),
      }),
    );
  }
  const leader = await waitFor(async () => {
    for (const [i, m] of metricsAddrs.entries()) {
      const r = await httpGet(m, '/metrics').catch(() => undefined);
      if (r && /^dnssync_leader 1$/m.test(r.body)) return i;
    }
    return undefined;
  }, { what: 'a leader', timeoutMs: 60_000 });
  console.log(`        controller-${leader} leads (pid ${procs[AGENT_IPS.length + leader]?.pid}); the other stands by`);

  step('kubectl apply -f deploy/examples/');
  const applied = await runKubectl({ kubeconfig: cp.kubeconfig, assets: cp.assets, args: ['apply', '-f', join(repoRoot, 'deploy', 'examples')] });
  process.stdout.write(indent(applied.stdout));
  if (applied.code !== 0) throw new Error(`kubectl apply failed: ${applied.stderr}`);

  step('waiting until every accepted record is Ready on 3/3 nodes');
  await waitFor(async () => {
    const r = await kubectl(['get', 'dnsrecords', '-n', 'shop', '-o', 'jsonpath={range .items[*]}{.status.nodes}{" "}{end}']);
    const nodes = r.stdout.trim().split(/\s+/);
    return nodes.filter((n) => n === '3/3').length >= 7;
  }, { what: 'records Ready', timeoutMs: 60_000, intervalMs: 200 });
  const table = await kubectl(['get', 'dnsrecords', '-A']);
  process.stdout.write(indent(table.stdout));
  const zones = await kubectl(['get', 'dnszones']);
  process.stdout.write(indent(zones.stdout));

  step('ready. Try:');
  const kctl = kubectlPath(cp.assets);
  console.log(`
  export KUBECONFIG=${cp.kubeconfig}
  ${kctl.includes('/') ? `alias kubectl=${kctl}` : ''}
  dig @${AGENT_IPS[0]} -p ${dnsPort} api.shop.corp.internal A +short
  dig @${AGENT_IPS[1]} -p ${dnsPort} www.shop.corp.internal A
  dig @${AGENT_IPS[2]} -p ${dnsPort} _http._tcp.shop.corp.internal SRV +short
  kubectl patch dnsrecord -n shop api --type=merge -p '{"spec":{"values":["10.1.2.99"]}}'
  kubectl get dnsrecords -A -w            # READY/NODES follow each change
  kubectl describe dnsrecord -n sandbox api   # a refusal: condition + Warning event
  kill ${procs[AGENT_IPS.length + leader]?.pid}   # the leader; the standby takes over

  Logs: ${cp.dir}/{agent-*,controller-*}.log. Ctrl-C stops everything.
`);
  // Children are unref'd; this timer is what keeps the demo alive until Ctrl-C.
  setInterval(() => undefined, 1 << 30);
}

main().catch(async (err: unknown) => {
  console.error(`[demo] failed: ${err instanceof Error ? err.message : String(err)}`);
  await shutdown(1);
});
