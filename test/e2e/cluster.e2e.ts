/**
 * The cluster itself (what `make cluster` promises): two Ready nodes, each running pods on
 * the pod network and on the node's network, and kube-dns answering Service names on both.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dig, kubectl, NODES, toolsPod, waitPodReady } from './cluster.js';

const NS = 'e2e-cluster';

describe('make cluster', () => {
  beforeAll(async () => {
    await kubectl(['delete', 'namespace', NS, '--ignore-not-found', '--wait=true']);
    await kubectl(['create', 'namespace', NS]);
    for (const n of NODES) {
      await kubectl(['apply', '-f', '-'], toolsPod(`pod-${n}`, NS, n, false));
      await kubectl(['apply', '-f', '-'], toolsPod(`host-${n}`, NS, n, true));
    }
    for (const n of NODES) {
      await waitPodReady(NS, `pod-${n}`);
      await waitPodReady(NS, `host-${n}`);
    }
  });
  afterAll(async () => {
    await kubectl(['delete', 'namespace', NS, '--ignore-not-found', '--wait=false']);
  });

  it('has two Ready nodes with their own pod CIDRs', async () => {
    const nodes = JSON.parse(await kubectl(['get', 'nodes', '-o', 'json'])) as {
      items: { metadata: { name: string }; status: { conditions: { type: string; status: string }[] } }[];
    };
    expect(nodes.items.map((n) => n.metadata.name).sort()).toEqual(['n1', 'n2']);
    for (const n of nodes.items) expect(n.status.conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
    const ips = await kubectl(['-n', NS, 'get', 'pods', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.status.podIP}{"\\n"}{end}']);
    expect(ips).toMatch(/pod-n1=10\.244\.1\.\d+/);
    expect(ips).toMatch(/pod-n2=10\.244\.2\.\d+/);
    expect(ips).toMatch(/host-n1=10\.200\.0\.11/);
    expect(ips).toMatch(/host-n2=10\.200\.0\.12/);
  });

  it.each(NODES.flatMap((n) => [`pod-${n}`, `host-${n}`]))('kube-dns answers a Service name from %s', async (pod) => {
    const a = await dig(NS, pod, '10.96.0.10', 'kubernetes.default.svc.cluster.local');
    expect(a).toEqual({ rcode: 'NOERROR', answers: ['10.96.0.1'] });
  });

  it('pods reach each other across nodes (through the masquerading bridge)', async () => {
    const dnsPod = await kubectl(['-n', 'kube-system', 'get', 'pods', '-l', 'k8s-app=kube-dns', '-o', 'jsonpath={.items[0].status.podIP}']);
    for (const n of NODES) {
      const a = await dig(NS, `pod-${n}`, dnsPod, 'outside.example.test');
      expect(a).toEqual({ rcode: 'NOERROR', answers: ['192.0.2.53'] });
    }
  });
});
