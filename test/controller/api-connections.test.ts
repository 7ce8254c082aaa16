/**
 * The controller's KubeConfig (loadKubeConfig) reuses its API server connections: status
 * writes ride one keep-alive connection instead of a TLS handshake each, and a watch on the
 * same pooled dispatcher keeps delivering events meanwhile.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CustomObjectsApi, Watch } from '@kubernetes/client-node';
import { loadKubeConfig } from '../../src/k8s/kubeconfig.js';
import { StatusClient } from '../../src/k8s/status.js';
import { registry } from '../../src/observability/metrics.js';
import { sharedControlPlane, uniqueNamespace } from '../controlplane/shared.js';
import { waitFor } from '../util/wait.js';
import { ensureNamespace } from './harness.js';

const RES = { group: 'dnssync.io', version: 'v1alpha1', plural: 'dnsrecords' } as const;

async function connectionsOpened(): Promise<number> {
  const m = registry.getSingleMetric('dnssync_k8s_api_connections_total');
  if (m === undefined) throw new Error('dnssync_k8s_api_connections_total is not registered');
  const v = await m.get();
  return v.values.reduce((s, x) => s + x.value, 0);
}

describe('API server connection reuse', () => {
  const cp = sharedControlPlane();
  const ns = uniqueNamespace('apiconn');
  const seen = new Set<string>();
  let stopWatch: (() => void) | undefined;

  beforeAll(async () => {
    const admin = cp.kubeConfig();
    await ensureNamespace(admin, ns);
    const api = admin.makeApiClient(CustomObjectsApi);
    await api.createNamespacedCustomObject({ ...RES, namespace: ns, body: { apiVersion: 'dnssync.io/v1alpha1', kind: 'DNSRecord', metadata: { name: 'r0' }, spec: { name: 'r0.conn.example.', type: 'A', values: ['10.0.0.1'] } } });
  });

  afterAll(() => stopWatch?.());

  it('opens at most two connections for a watch and 20 status writes while a watch stays live', async () => {
    const kc = loadKubeConfig(cp.kubeconfig);
    const before = await connectionsOpened();
    const ctrl = await new Watch(kc).watch(`/apis/dnssync.io/v1alpha1/namespaces/${ns}/dnsrecords`, {}, (_phase, obj: { metadata?: { name?: string } }) => {
      if (obj.metadata?.name) seen.add(obj.metadata.name);
    }, () => undefined);
    stopWatch = () => ctrl.abort();
    await waitFor(() => seen.has('r0'), { what: 'watch lists r0', timeoutMs: 10_000 });

    const status = new StatusClient(kc);
    for (let i = 0; i < 20; i++) await status.patch(RES, ns, 'r0', { observedGeneration: i });
    const opened = (await connectionsOpened()) - before;
    // client-node alone opens one connection (and TLS handshake) per request: 21 here. With
    // HTTP/2 (undici negotiates it with the apiserver) the watch and the writes share one.
    expect(opened).toBeGreaterThanOrEqual(1);
    expect(opened).toBeLessThanOrEqual(2);

    const api = cp.kubeConfig().makeApiClient(CustomObjectsApi);
    const got = await api.getNamespacedCustomObjectStatus({ ...RES, namespace: ns, name: 'r0' }) as { status?: { observedGeneration?: number } };
    expect(got.status?.observedGeneration).toBe(19);

    // The watch shares the pooled dispatcher and still delivers.
    await api.createNamespacedCustomObject({ ...RES, namespace: ns, body: { apiVersion: 'dnssync.io/v1alpha1', kind: 'DNSRecord', metadata: { name: 'r1' }, spec: { name: 'r1.conn.example.', type: 'A', values: ['10.0.0.2'] } } });
    await waitFor(() => seen.has('r1'), { what: 'watch sees r1 after the writes', timeoutMs: 10_000 });
  });
});
