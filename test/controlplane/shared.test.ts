import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sharedControlPlane } from './shared.js';

describe('the shared control plane from the global setup', () => {
  const cp = sharedControlPlane();

  it('is reachable through inject() and the environment, for child processes too', async () => {
    expect(process.env['DNSSYNC_TEST_KUBECONFIG']).toBe(cp.kubeconfig);
    expect(process.env['DNSSYNC_TEST_ASSETS']).toBe(cp.assets);
    for (const b of ['etcd', 'kube-apiserver', 'helm']) expect(existsSync(join(cp.assets, b)), b).toBe(true);
    const r = await cp.kubectl(['get', '--raw', '/readyz']);
    expect(r.stdout.trim()).toBe('ok');
  });

  it('uses a kubectl of the API server version when one was built', async () => {
    const r = await cp.kubectl(['version', '-o', 'json']);
    const v = JSON.parse(r.stdout) as { serverVersion: { gitVersion: string }; clientVersion: { gitVersion: string } };
    expect(v.serverVersion.gitVersion).toMatch(/^v1\.\d+\.\d+$/);
    if (existsSync(join(cp.assets, 'kubectl'))) expect(v.clientVersion.gitVersion).toBe(v.serverVersion.gitVersion);
  });
});
