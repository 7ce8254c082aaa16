/**
 * Paged list calls for the informers, returning raw objects plus the list's
 * resourceVersion and continue token.
 */
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { ListPage } from './informer.js';
import type { ResourceRef } from './status.js';

interface RawList {
  items?: unknown[];
  metadata?: { resourceVersion?: string; _continue?: string; continue?: string };
}

function page(l: RawList): ListPage {
  return {
    items: l.items ?? [],
    resourceVersion: l.metadata?.resourceVersion ?? '',
    continueToken: l.metadata?._continue ?? l.metadata?.continue,
  };
}

export type Lister = (p: { limit: number; continueToken?: string | undefined }) => Promise<ListPage>;

export function customLister(kc: KubeConfig, res: ResourceRef): Lister {
  const api = kc.makeApiClient(CustomObjectsApi);
  return async (p) => page((await api.listClusterCustomObject({ ...res, limit: p.limit, _continue: p.continueToken })) as RawList);
}

export function namespaceLister(kc: KubeConfig): Lister {
  const api = kc.makeApiClient(CoreV1Api);
  return async (p) => page((await api.listNamespace({ limit: p.limit, _continue: p.continueToken })) as RawList);
}

export function podLister(kc: KubeConfig, namespace: string, labelSelector: string | undefined): Lister {
  const api = kc.makeApiClient(CoreV1Api);
  return async (p) => page((await api.listNamespacedPod({ namespace, labelSelector, limit: p.limit, _continue: p.continueToken })) as RawList);
}
