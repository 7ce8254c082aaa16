/**
 * The chart as a user installs it (`helm install` with default values apart from the image
 * pull policy: the image is imported, not pulled), on the two real nodes of `make cluster`,
 * queried by real kdig from an ordinary pod and from a host-network pod on each node.
 *
 * Three faults found by trying this by hand are tests here (issue #11, "Why"):
 *   1. default install: no interface holds 169.254.20.10, the agents crash-loop (#13);
 *   2. masquerading CNI: the second node's agent pulled from the NOTIFY's rewritten source
 *      and dropped the zone, NODES 1/2 (#12 fault 2, fixed by 27f0040);
 *   3. agent container restarted in place comes back empty but Ready (#12 fault 1).
 * Tests whose fix has not landed on main are `it.fails`, naming the issue, never skipped.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../util/wait.js';
import {
  dig, type DigAnswer, digUntil, helm, kubectl, kubectlRun, NODE_LOCAL, NODES, run, snapshot, toolsPod, waitPodReady, type NodeName,
} from './cluster.js';

const REL = 'dnssync';
const NS = 'dnssync';
const CLIENTS = 'e2e-clients';
const CHART = 'deploy/helm/dnssync';
const ZONE = 'e2e.test.';
const NAME = 'www.e2e.test.';
const STATE = process.env['DNSSYNC_CLUSTER_DIR'] ?? '/run/dnssync-cluster';
/** kube-dns's ClusterIP (test/cluster/cluster.sh), which the agents answer on in transparent mode. */
const KUBE_DNS = '10.96.0.10';
const NODE_IPS: Record<NodeName, string> = { n1: '10.200.0.11', n2: '10.200.0.12' };
/** Every client: an ordinary pod and a host-network pod on each node. */
const CLIENT_PODS = NODES.flatMap((n) => [`pod-${n}`, `host-${n}`]);

interface PodJson {
  metadata: { name: string; ownerReferences?: { kind: string }[] };
  spec: { nodeName?: string };
  status: {
    podIP?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { name: string; containerID?: string; restartCount: number; ready: boolean }[];
  };
}

async function agentPods(): Promise<PodJson[]> {
  const list = JSON.parse(await kubectl(['-n', NS, 'get', 'pods', '-o', 'json'])) as { items: PodJson[] };
  return list.items.filter((p) => p.metadata.ownerReferences?.some((o) => o.kind === 'DaemonSet'));
}
/** Logs write the zone without its final dot ("e2e.test"). */
const sameZone = (z: unknown): boolean => z === ZONE || z === ZONE.slice(0, -1);
const isReady = (p: PodJson): boolean => p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

/** Answers the node's agent got from its upstreams (dnssync_agent_queries_total{source="upstream"}). */
async function upstreamAnswers(node: NodeName): Promise<number> {
  const res = await fetch(`http://${NODE_IPS[node]}:9254/metrics`);
  const text = await res.text();
  return text.split('\n').filter((l) => l.startsWith('dnssync_agent_queries_total{') && l.includes('source="upstream"')).reduce((n, l) => n + Number(l.split(' ').pop()), 0);
}

async function agentsReady(timeoutMs: number): Promise<void> {
  await waitFor(
    async () => {
      const pods = await agentPods();
      return pods.length === NODES.length && pods.every(isReady) ? pods : undefined;
    },
    { what: 'an agent Ready on each node', timeoutMs, intervalMs: 1000 },
  );
}

async function recordStatus(name: string): Promise<{ ready: string; nodes: string }> {
  const r = JSON.parse(await kubectl(['-n', CLIENTS, 'get', 'dnsrecord', name, '-o', 'json'])) as {
    status?: { nodes?: string; conditions?: { type: string; status: string }[] };
  };
  return { ready: r.status?.conditions?.find((c) => c.type === 'Ready')?.status ?? '', nodes: r.status?.nodes ?? '' };
}

/** The zone's serial as the n1 agent answers it (the SOA's third field). */
async function zoneSerial(): Promise<number> {
  const a = await digUntil(CLIENTS, 'pod-n1', NODE_LOCAL, ZONE, (x) => x.rcode === 'NOERROR' && x.answers.length === 1, 'the zone SOA', 30_000, 'SOA');
  return Number((a.answers[0] ?? '').split(/\s+/)[2]);
}

function record(name: string, values: string[]): string {
  return JSON.stringify({
    apiVersion: 'dnssync.io/v1alpha1',
    kind: 'DNSRecord',
    metadata: { name, namespace: CLIENTS },
    spec: { name: NAME, type: 'A', values },
  });
}

/** The same answer, at the node-local address, from every client pod. */
async function everyClientAnswers(ok: (a: DigAnswer) => boolean, what: string, name = NAME): Promise<void> {
  await Promise.all(CLIENT_PODS.map((p) => digUntil(CLIENTS, p, NODE_LOCAL, name, ok, `${what} from ${p}`, 60_000)));
}

async function removeNodeLocalAddress(node: NodeName): Promise<void> {
  // Absent is fine: this only undoes a previous run's manual step on a reused cluster.
  await run('nsenter', [`--net=/run/netns/dnssync-${node}`, '--', 'ip', 'addr', 'del', `${NODE_LOCAL}/32`, 'dev', 'lo']);
}

describe('helm install with default values, on two nodes', () => {
  // A failed test leaves the cluster's state beside its message (CI shows no cluster afterwards).
  beforeEach((ctx) => {
    ctx.onTestFailed(async () => {
      process.stderr.write(`${await snapshot(ctx.task.name, NS)}\n`);
    }, 120_000);
  });

  beforeAll(async () => {
    await run('helm', ['uninstall', REL, '-n', NS, '--wait']); // a previous run's release, if any
    for (const n of NODES) await removeNodeLocalAddress(n);
    await kubectl(['delete', 'namespace', CLIENTS, '--ignore-not-found', '--wait=true'], undefined, 180_000);
    await kubectl(['create', 'namespace', CLIENTS]);
    for (const n of NODES) {
      await kubectl(['apply', '-f', '-'], toolsPod(`pod-${n}`, CLIENTS, n, false));
      await kubectl(['apply', '-f', '-'], toolsPod(`host-${n}`, CLIENTS, n, true));
    }
    // The README's install: a namespace labelled for the host-network agents, then helm.
    await kubectl(['create', 'namespace', NS, '--dry-run=client', '-o', 'yaml']).then((y) => kubectl(['apply', '-f', '-'], y));
    await kubectl(['label', 'namespace', NS, 'pod-security.kubernetes.io/enforce=privileged', '--overwrite']);
    await helm(['install', REL, CHART, '-n', NS, '--set', 'image.pullPolicy=Never']);
    for (const p of CLIENT_PODS) await waitPodReady(CLIENTS, p);
  });

  afterAll(async () => {
    await run('helm', ['uninstall', REL, '-n', NS, '--wait']);
    await kubectlRun(['delete', 'namespace', CLIENTS, '--ignore-not-found', '--wait=false']);
    await kubectlRun(['delete', 'dnszone', 'e2e-test', '--ignore-not-found']);
    await kubectlRun(['delete', 'crd', 'dnszones.dnssync.io', 'dnsrecords.dnssync.io', '--ignore-not-found']);
    await kubectlRun(['delete', 'namespace', NS, '--ignore-not-found', '--wait=false']);
    for (const n of NODES) await removeNodeLocalAddress(n);
  });

  // Fault 1 (#13): before the agent set up its own node address (f7df1d1) nothing put
  // 169.254.20.10 on the node and the agent crash-looped on "bind EADDRNOTAVAIL 169.254.20.10:53".
  it('every agent becomes Ready with no manual node step', async () => {
    await agentsReady(120_000);
  });

  describe('with the node-local address on each node', () => {
    beforeAll(async () => {
      await agentsReady(180_000);
      await kubectl(['apply', '-f', '-'], JSON.stringify({
        apiVersion: 'dnssync.io/v1alpha1', kind: 'DNSZone', metadata: { name: 'e2e-test' }, spec: { zone: ZONE, defaultTTL: 5 },
      }));
    });

    // Fault 2 (#12, fixed on main by 27f0040): pod traffic is masqueraded by the bridge CNI,
    // so the second node's agent saw the NOTIFY come from a node address and pulled from there.
    it('a DNSRecord applied with kubectl is answered at 169.254.20.10 on both nodes and reaches Ready 2/2', async () => {
      await kubectl(['apply', '-f', '-'], record('www', ['10.9.8.7']));
      await everyClientAnswers((a) => a.rcode === 'NOERROR' && a.answers.join() === '10.9.8.7', 'www answered 10.9.8.7');
      const st = await waitFor(
        async () => {
          const s = await recordStatus('www');
          return s.ready === 'True' && s.nodes === '2/2' ? s : undefined;
        },
        { what: 'DNSRecord www Ready True, NODES 2/2', timeoutMs: 60_000, intervalMs: 1000 },
      );
      expect(st).toEqual({ ready: 'True', nodes: '2/2' });
    });

    it('a change and a delete reach both nodes', async () => {
      await kubectl(['apply', '-f', '-'], record('www', ['10.9.8.8', '10.9.8.9']));
      await everyClientAnswers((a) => a.rcode === 'NOERROR' && [...a.answers].sort().join() === '10.9.8.8,10.9.8.9', 'www changed');
      await kubectl(['apply', '-f', '-'], record('gone', ['10.0.0.1']).replace(NAME, 'gone.e2e.test.'));
      await everyClientAnswers((a) => a.answers.join() === '10.0.0.1', 'gone answered', 'gone.e2e.test.');
      await kubectl(['-n', CLIENTS, 'delete', 'dnsrecord', 'gone']);
      await everyClientAnswers((a) => a.rcode === 'NXDOMAIN', 'gone deleted: NXDOMAIN', 'gone.e2e.test.');
    });

    it('names outside our zones resolve through the agent (forwarded to kube-dns), a Service name included', async () => {
      await everyClientAnswers((a) => a.answers.join() === '192.0.2.53', 'outside.example.test via the agent', 'outside.example.test.');
      await everyClientAnswers((a) => a.answers.join() === '10.96.0.1', 'kubernetes Service via the agent', 'kubernetes.default.svc.cluster.local.');
    });

    // #13 transparent mode (default on): the pods' own resolv.conf names the kube-dns ClusterIP
    // (kubelet clusterDNS, no dnsConfig), and the agent on their node answers there.
    it('a pod with ordinary DNS settings gets its answers from its node agent at the kube-dns ClusterIP: a DNSRecord name and a forwarded name', async () => {
      for (const p of CLIENT_PODS) {
        // Only the agent knows e2e.test: kube-dns has no such zone.
        const a = await digUntil(CLIENTS, p, '', NAME, (x) => [...x.answers].sort().join() === '10.9.8.8,10.9.8.9', `www through ${p}'s resolv.conf`);
        expect(a.from, `${p}: the resolv.conf nameserver`).toBe(KUBE_DNS);
        const o = await dig(CLIENTS, p, '', 'outside.example.test.');
        expect(o, `${p}: outside.example.test through resolv.conf`).toEqual({ rcode: 'NOERROR', answers: ['192.0.2.53'], from: KUBE_DNS });
      }
      // A name nobody asked before is forwarded by the node's agent (its upstream counter
      // rises) to kube-dns through kube-dns-upstream, and kube-dns's answer comes back.
      for (const n of NODES) {
        const before = await upstreamAnswers(n);
        const fresh = `e2e-${Date.now().toString(36)}-${n}.default.svc.cluster.local.`;
        const a = await dig(CLIENTS, `pod-${n}`, '', fresh);
        expect(a.rcode, fresh).toBe('NXDOMAIN');
        expect(a.from).toBe(KUBE_DNS);
        expect(await upstreamAnswers(n), `${n}: the agent forwarded ${fresh}`).toBeGreaterThan(before);
        const svc = await dig(CLIENTS, `pod-${n}`, '', 'kubernetes.default.svc.cluster.local.');
        expect(svc).toEqual({ rcode: 'NOERROR', answers: ['10.96.0.1'], from: KUBE_DNS });
      }
      const logs = (await Promise.all((await agentPods()).map((p) => kubectl(['-n', NS, 'logs', p.metadata.name])))).join('\n');
      expect(logs).toContain('upstream Service resolved');
    });

    it('helm upgrade with a flag change rolls the agents and keeps the key and the records', async () => {
      const secret = async (): Promise<string> => kubectl(['-n', NS, 'get', 'secret', `${REL}-tsig`, '-o', 'jsonpath={.data}']);
      const key = await secret();
      const oldPods = (await agentPods()).map((p) => p.metadata.name).sort();
      await helm(['upgrade', REL, CHART, '-n', NS, '--reuse-values', '--set', 'agent.nodeOptions=--max-semi-space-size=8']);
      await waitFor(
        async () => {
          const pods = await agentPods();
          return pods.length === NODES.length && pods.every(isReady) && pods.every((p) => !oldPods.includes(p.metadata.name)) ? pods : undefined;
        },
        { what: 'both agents replaced and Ready after the upgrade', timeoutMs: 240_000, intervalMs: 1000 },
      );
      expect(await secret()).toBe(key);
      await everyClientAnswers((a) => [...a.answers].sort().join() === '10.9.8.8,10.9.8.9', 'www after the upgrade');
      const args = JSON.parse(await kubectl(['-n', NS, 'get', 'daemonset', '-o', 'json'])) as { items: { spec: { template: unknown } }[] };
      expect(JSON.stringify(args.items[0]?.spec.template)).toContain('--max-semi-space-size=8');
    });

    // At the default logLevel (info): one line per published serial on the leader, one per
    // applied transfer on each agent (as BIND logs each transfer).
    it('kubectl logs of the controller and of an agent show the change with the stable keys', async () => {
      await kubectl(['apply', '-f', '-'], record('www', ['10.9.8.10']));
      await everyClientAnswers((a) => a.answers.join() === '10.9.8.10', 'www changed again');
      const serialNow = await zoneSerial();
      const lines = (text: string): Record<string, unknown>[] =>
        text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      const controller = (await Promise.all(
        (JSON.parse(await kubectl(['-n', NS, 'get', 'pods', '-o', 'json'])) as { items: PodJson[] }).items
          .filter((p) => p.metadata.ownerReferences?.some((o) => o.kind === 'ReplicaSet'))
          .map((p) => kubectl(['-n', NS, 'logs', p.metadata.name])),
      )).flatMap(lines);
      expect(controller.some((l) => sameZone(l['zone']) && l['serial'] === serialNow), `controller (leader): a line with zone and serial ${serialNow}`).toBe(true);
      const agents = (await Promise.all((await agentPods()).map((p) => kubectl(['-n', NS, 'logs', p.metadata.name])))).map(lines);
      for (const a of agents) expect(a.some((l) => sameZone(l['zone']) && l['serial'] === serialNow), `agent: a line with zone and serial ${serialNow}`).toBe(true);
    });

    // Fault 3 (#12): the agent container restarted in place (same Pod, same IP) came back empty
    // but Ready; since 67f0480 the restarted n2 agent is Ready with the zone at once. The n1
    // watcher's TIMEOUTs while n2 restarted came from the hand-over markers: both nodes of this
    // cluster share one filesystem, so n1's agent took the restarted n2 agent for its newer
    // replacement and left its sockets; markers are scoped to the network namespace (88fabf2).
    // It runs last before uninstall (in an earlier ordering the upgrade after it never got the zone).
    it('an agent container killed in place comes back serving; the other node never answers NXDOMAIN meanwhile', async () => {
      const before = (await agentPods()).find((p) => p.spec.nodeName === 'n2');
      const cs = before?.status.containerStatuses?.[0];
      expect(cs?.containerID).toMatch(/^containerd:\/\//);
      const id = (cs?.containerID ?? '').replace('containerd://', '');
      const kill = await run('ctr', ['-a', `${STATE}/n2/containerd.sock`, '-n', 'k8s.io', 'tasks', 'kill', '-s', 'SIGKILL', id]);
      expect(kill.code, kill.stderr).toBe(0);
      // Poll n1 the whole time n2's agent is down and coming back.
      const seen: DigAnswer[] = [];
      let done = false;
      const watcher = (async () => {
        while (!done) seen.push(await dig(CLIENTS, 'pod-n1', NODE_LOCAL, NAME));
      })();
      try {
        await waitFor(
          async () => {
            const p = (await agentPods()).find((x) => x.spec.nodeName === 'n2');
            const c = p?.status.containerStatuses?.[0];
            return p !== undefined && c !== undefined && c.restartCount > (cs?.restartCount ?? 0) && isReady(p) ? p : undefined;
          },
          { what: 'the n2 agent restarted in place and Ready', timeoutMs: 120_000, intervalMs: 500 },
        );
        // Ready promises the zones: ask right away, a short grace for the first query only.
        await digUntil(CLIENTS, 'pod-n2', NODE_LOCAL, NAME, (a) => a.answers.join() === '10.9.8.10', 'restarted n2 agent serving www', 10_000);
        await digUntil(CLIENTS, 'host-n2', NODE_LOCAL, NAME, (a) => a.answers.join() === '10.9.8.10', 'restarted n2 agent serving www (host network)', 10_000);
      } finally {
        done = true;
        await watcher;
      }
      // 'EXEC' is kubectl exec failing to run kdig at all: no DNS query was sent.
      const asked = seen.filter((a) => a.rcode !== 'EXEC');
      expect(asked.length).toBeGreaterThan(0);
      expect(asked.filter((a) => a.rcode !== 'NOERROR' || a.answers.join() !== '10.9.8.10'), `n1 answers while n2 restarts (${seen.length - asked.length} exec failures)`).toEqual([]);
    });

    it('helm uninstall removes the workloads and keeps the CRDs, the records and the TSIG Secret (README)', async () => {
      await helm(['uninstall', REL, '-n', NS, '--wait']);
      await waitFor(async () => ((await agentPods()).length === 0 ? true : undefined), { what: 'agent pods gone', timeoutMs: 120_000, intervalMs: 1000 });
      expect(await kubectl(['get', 'crd', 'dnszones.dnssync.io', 'dnsrecords.dnssync.io', '-o', 'name'])).toContain('dnsrecords.dnssync.io');
      expect(await kubectl(['-n', CLIENTS, 'get', 'dnsrecord', 'www', '-o', 'name'])).toContain('www');
      expect(await kubectl(['-n', NS, 'get', 'secret', `${REL}-tsig`, '-o', 'name'])).toContain(`${REL}-tsig`);
      // Nothing answers at the node-local address any more.
      const a = await dig(CLIENTS, 'pod-n1', NODE_LOCAL, NAME);
      expect(a.rcode).toBe('TIMEOUT');
      // Transparent mode gave the ClusterIP back on every node: no address, no rules, and the
      // pods' resolv.conf reaches kube-dns through kube-proxy again.
      for (const n of NODES) {
        const addrs = await run('nsenter', [`--net=/run/netns/dnssync-${n}`, '--', 'ip', '-o', 'addr', 'show']);
        expect(addrs.stdout, `${n}: addresses`).not.toContain(` ${KUBE_DNS}/32 `);
        const rules = await run('nsenter', [`--net=/run/netns/dnssync-${n}`, '--', 'iptables-save']);
        expect(rules.stdout.split('\n').filter((l) => l.includes('dnssync node-local DNS')), `${n}: our iptables rules`).toEqual([]);
      }
      expect((await kubectlRun(['-n', 'kube-system', 'get', 'service', 'kube-dns-upstream'])).code).not.toBe(0);
      for (const p of CLIENT_PODS) {
        const o = await digUntil(CLIENTS, p, '', 'outside.example.test.', (x) => x.answers.join() === '192.0.2.53', `${p}: kube-dns through resolv.conf after uninstall`, 30_000);
        expect(o.from).toBe(KUBE_DNS);
        // kube-dns knows nothing of the agents' zone.
        expect((await dig(CLIENTS, p, '', NAME)).answers, `${p}: www after uninstall`).toEqual([]);
      }
    });
  });
});
