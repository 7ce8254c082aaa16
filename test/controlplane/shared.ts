/**
 * The shared control plane from the vitest global setup, as seen from a test file:
 *
 *   const { kubeconfig, kubeConfig, kubectl } = sharedControlPlane();
 *   const api = kubeConfig().makeApiClient(CustomObjectsApi);
 *   const { stdout } = await kubectl(['get', 'dnsrecords', '-A']);
 *
 * Tests share it, so each test file works in its own namespace (uniqueNamespace) and never
 * restarts anything; for fault tests, call startControlPlane() for a private instance.
 *
 * Shared means seen by all: there is no namespace controller, so a deleted namespace stays
 * Terminating with its objects in it for the rest of the run, and anything that watches all
 * namespaces (a controller under test) sees every other file's objects. Scope assertions
 * (and a controller's namespaces or selectors) to your own, or use a private control plane.
 */
import { inject } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import { runKubectl, type KubectlResult } from './kubectl.js';

export interface SharedControlPlane {
  readonly kubeconfig: string;
  readonly assets: string;
  readonly server: string;
  kubeConfig(): KubeConfig;
  kubectl(args: readonly string[], input?: string): Promise<KubectlResult>;
}

export function sharedControlPlane(): SharedControlPlane {
  const kubeconfig = inject('dnssyncKubeconfig');
  const assets = inject('dnssyncAssets');
  const server = inject('dnssyncServer');
  if (!kubeconfig) {
    throw new Error('no shared control plane: DNSSYNC_TEST_CONTROLPLANE=0 is set, or test/controlplane/global-setup.ts is not in vitest.config.ts');
  }
  return {
    kubeconfig,
    assets,
    server,
    kubeConfig: () => {
      const kc = new KubeConfig();
      kc.loadFromFile(kubeconfig);
      return kc;
    },
    kubectl: (args, input) => runKubectl({ kubeconfig, assets, args, input }),
  };
}

/** A namespace name no other test file uses: a prefix and a random suffix. */
export function uniqueNamespace(prefix: string): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
}
