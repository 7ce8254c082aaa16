/**
 * The harness itself, on a private control plane (the shared one is never restarted):
 * restarts keep data and credentials, RBAC is enforced, service-account tokens are signed
 * and accepted, and stop() leaves no process behind.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiException, AuthenticationV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { ControlPlaneError, startControlPlane, type ControlPlane } from './controlplane.js';
import { waitFor } from '../util/wait.js';

function pidsOf(binary: string, dir: string): number[] {
  // Our children are the ones whose command line names our directory.
  const out: number[] = [];
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (cmd[0]?.endsWith(`/${binary}`) && cmd.some((a) => a.includes(dir))) out.push(Number(entry));
    } catch {
      // Gone while we looked.
    }
  }
  return out;
}

describe('a private control plane', () => {
  let cp: ControlPlane;
  let core: CoreV1Api;

  beforeAll(async () => {
    cp = await startControlPlane({ crdsDir: null });
    core = cp.kubeConfig().makeApiClient(CoreV1Api);
  });

  afterAll(async () => {
    await cp?.stop();
  });

  it('serves TLS on 127.0.0.1 with an admin client certificate', () => {
    expect(cp.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const kc = cp.kubeConfig();
    expect(kc.getCurrentCluster()?.server).toBe(cp.server);
    expect(kc.getCurrentUser()?.certData).toBeTruthy();
  });

  it('keeps data and kubeconfigs across an API server crash and an etcd restart', async () => {
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'survivor' }, data: { k: 'v' } } });
    await cp.restartApiServer({ graceful: false });
    expect((await core.readNamespacedConfigMap({ namespace: 'default', name: 'survivor' })).data).toEqual({ k: 'v' });
    await cp.stopEtcd();
    // With etcd down the API server stays up and says so in its etcd readiness check.
    const down = await cp.kubectl(['get', '--raw', '/readyz/etcd', '--request-timeout=20s']);
    expect(down.code).not.toBe(0);
    await cp.startEtcd();
    const cm = await waitFor(
      () => core.readNamespacedConfigMap({ namespace: 'default', name: 'survivor' }),
      { timeoutMs: 60_000, intervalMs: 200, what: 'reads to work again after etcd came back' },
    );
    expect(cm.data).toEqual({ k: 'v' });
  });

  it('enforces RBAC: a user without a binding is forbidden', async () => {
    const path = await cp.userKubeconfig('nobody', ['dnssync-test']);
    const kc = new KubeConfig();
    kc.loadFromFile(path);
    const err = await kc.makeApiClient(CoreV1Api).listNamespacedConfigMap({ namespace: 'default' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiException);
    expect((err as ApiException<string>).code).toBe(403);
    expect(String((err as ApiException<string>).body)).toContain('User \\"nobody\\" cannot list resource \\"configmaps\\"');
  });

  it('signs service-account tokens that the API server accepts', async () => {
    await core.createNamespacedServiceAccount({ namespace: 'default', body: { metadata: { name: 'dnssync-controller' } } });
    const tr = await core.createNamespacedServiceAccountToken({
      namespace: 'default',
      name: 'dnssync-controller',
      body: { spec: { audiences: [], expirationSeconds: 600 } },
    });
    const token = tr.status?.token ?? '';
    expect(token.split('.')).toHaveLength(3);
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: cp.server, caFile: cp.caCert }],
      users: [{ name: 'sa', token }],
      contexts: [{ name: 'c', cluster: 'c', user: 'sa' }],
      currentContext: 'c',
    });
    const review = await kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: {} });
    expect(review.status?.userInfo?.username).toBe('system:serviceaccount:default:dnssync-controller');
  });

  it('stop() kills etcd and kube-apiserver and removes its directory', async () => {
    const other = await startControlPlane({ crdsDir: null });
    const before = [...pidsOf('etcd', other.dir), ...pidsOf('kube-apiserver', other.dir)];
    expect(before).toHaveLength(2);
    await other.stop();
    expect([...pidsOf('etcd', other.dir), ...pidsOf('kube-apiserver', other.dir)]).toEqual([]);
    expect(() => readFileSync(other.kubeconfig)).toThrow();
  });

  it('fails fast, naming the log, when a component exits during start', async () => {
    const assets = await mkdtemp(join(tmpdir(), 'dnssync-badassets-'));
    try {
      await symlink(join(cp.assets, 'etcd'), join(assets, 'etcd'));
      await writeFile(join(assets, 'kube-apiserver'), '#!/bin/sh\necho "Error: unknown flag" >&2\nexit 1\n', { mode: 0o755 });
      const started = Date.now();
      const err = await startControlPlane({ assets, dir: join(assets, 'cp'), crdsDir: null }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ControlPlaneError);
      expect((err as Error).message).toMatch(/kube-apiserver exited \(exit code 1\); see .*kube-apiserver\.log/);
      expect(Date.now() - started).toBeLessThan(20_000);
    } finally {
      await rm(assets, { recursive: true, force: true });
    }
  });
});
