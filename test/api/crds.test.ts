import { describe, expect, it } from 'vitest';
import { ApiextensionsV1Api } from '@kubernetes/client-node';
import { sharedControlPlane } from '../controlplane/shared.js';

describe('CRDs on a real API server', () => {
  const cp = sharedControlPlane();

  it.each(['dnsrecords.dnssync.io', 'dnszones.dnssync.io'])('%s is Established with its names accepted', async (name) => {
    const api = cp.kubeConfig().makeApiClient(ApiextensionsV1Api);
    const crd = await api.readCustomResourceDefinition({ name });
    const cond = (t: string): string | undefined => crd.status?.conditions?.find((c) => c.type === t)?.status;
    expect(cond('Established')).toBe('True');
    expect(cond('NamesAccepted')).toBe('True');
    expect(crd.spec.group).toBe('dnssync.io');
    expect(crd.spec.versions.map((v) => v.name)).toEqual(['v1alpha1']);
  });
});
