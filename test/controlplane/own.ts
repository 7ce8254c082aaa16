/**
 * A control plane of one test file's own, in the shape of sharedControlPlane(): for files
 * that run a controller. A controller watches every namespace and writes the status of every
 * DNSRecord it sees (it has no namespace option), so on the shared API server the files'
 * controllers would write each other's statuses and push each other's zones.
 *
 *   const cp = ownControlPlane();   // at the top of the file: registers beforeAll/afterAll
 *
 * Its members may be used once the file's hooks run (in beforeAll and tests), not at import.
 */
import { afterAll, beforeAll } from 'vitest';
import type { KubeConfig } from '@kubernetes/client-node';
import { startControlPlane, type ControlPlane } from './controlplane.js';
import type { SharedControlPlane } from './shared.js';
import type { KubectlResult } from './kubectl.js';

export function ownControlPlane(): SharedControlPlane {
  let cp: ControlPlane | undefined;
  const started = (): ControlPlane => {
    if (!cp) throw new Error('ownControlPlane(): used before its beforeAll started it (call it at the top of the file, use it in hooks and tests)');
    return cp;
  };
  // Registered first, so it runs before the file's own beforeAll and (hooks are a stack)
  // its afterAll runs after theirs.
  beforeAll(async () => {
    cp = await startControlPlane();
  }, 120_000);
  afterAll(async () => {
    await cp?.stop();
  });
  return {
    get kubeconfig(): string {
      return started().kubeconfig;
    },
    get assets(): string {
      return started().assets;
    },
    get server(): string {
      return started().server;
    },
    kubeConfig: (): KubeConfig => started().kubeConfig(),
    kubectl: (args: readonly string[], input?: string): Promise<KubectlResult> => started().kubectl(args, input),
  };
}
