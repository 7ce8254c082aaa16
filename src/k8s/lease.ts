/**
 * The coordination.k8s.io/v1 Lease as leader election needs it: read, create, and a
 * compare-and-swap update (resourceVersion), nothing else.
 */
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { isConflict, isNotFound } from './errors.js';

export interface LeaseRecord {
  readonly holder: string;
  readonly durationSeconds: number;
  readonly acquireTime: Date | undefined;
  readonly renewTime: Date | undefined;
  readonly transitions: number;
  readonly resourceVersion: string;
}

export type LeaseWrite = Omit<LeaseRecord, 'resourceVersion'>;

export class LeaseClient {
  private readonly api: CoordinationV1Api;

  constructor(
    kc: KubeConfig,
    readonly namespace: string,
    readonly name: string,
  ) {
    this.api = kc.makeApiClient(CoordinationV1Api);
  }

  async get(): Promise<LeaseRecord | undefined> {
    try {
      return toRecord(await this.api.readNamespacedLease({ name: this.name, namespace: this.namespace }));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Returns undefined when someone else created it first. */
  async create(w: LeaseWrite): Promise<LeaseRecord | undefined> {
    try {
      return toRecord(await this.api.createNamespacedLease({ namespace: this.namespace, body: this.body(w, undefined) }));
    } catch (err) {
      if (isConflict(err)) return undefined;
      throw err;
    }
  }

  /** Returns undefined when the lease changed since `prev` was read. */
  async update(prev: LeaseRecord, w: LeaseWrite): Promise<LeaseRecord | undefined> {
    try {
      return toRecord(await this.api.replaceNamespacedLease({ name: this.name, namespace: this.namespace, body: this.body(w, prev.resourceVersion) }));
    } catch (err) {
      if (isConflict(err) || isNotFound(err)) return undefined;
      throw err;
    }
  }

  private body(w: LeaseWrite, resourceVersion: string | undefined): V1Lease {
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: this.name, namespace: this.namespace, ...(resourceVersion ? { resourceVersion } : {}) },
      spec: {
        holderIdentity: w.holder,
        leaseDurationSeconds: w.durationSeconds,
        ...(w.acquireTime ? { acquireTime: new V1MicroTime(w.acquireTime.getTime()) } : {}),
        ...(w.renewTime ? { renewTime: new V1MicroTime(w.renewTime.getTime()) } : {}),
        leaseTransitions: w.transitions,
      },
    };
  }
}

function toRecord(l: V1Lease): LeaseRecord {
  return {
    holder: l.spec?.holderIdentity ?? '',
    durationSeconds: l.spec?.leaseDurationSeconds ?? 15,
    acquireTime: l.spec?.acquireTime ? new Date(l.spec.acquireTime) : undefined,
    renewTime: l.spec?.renewTime ? new Date(l.spec.renewTime) : undefined,
    transitions: l.spec?.leaseTransitions ?? 0,
    resourceVersion: l.metadata?.resourceVersion ?? '',
  };
}
