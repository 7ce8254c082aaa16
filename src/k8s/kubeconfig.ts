/**
 * Loads the cluster credentials: a kubeconfig file when given, otherwise the in-cluster
 * service account (the Deployment case).
 */
import { KubeConfig } from '@kubernetes/client-node';

export function loadKubeConfig(path: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (path !== undefined && path !== '') kc.loadFromFile(path);
  else kc.loadFromCluster();
  return kc;
}
