/**
 * The coordination.k8s.io/v1 Lease as leader election needs it: read, create, and a
 * compare-and-swap update (resourceVersion), nothing else. Each call takes an AbortSignal,
 * handed to fetch, so a request hung on a silent connection is torn down, not left waiting.
 */
import { CoordinationV1Api, Observable, V1MicroTime, type ConfigurationOptions, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { isConflict, isNotFound } from './errors.js';

export interface LeaseRecord {
  readonly holder: string;
  readonly durationSeconds: number;
  readonly acquireTime: Date | undefined;
  readonly renewTime: Date | undefined;
  readonly transitions: number;
  readonly resourceVersion: string;
  /** When the Lease object was created (a recreated Lease starts its transitions again). */
  readonly created?: Date | undefined;
}

export type LeaseWrite = Omit<LeaseRecord, 'resourceVersion' | 'created'>;

export class LeaseClient {
  private readonly api: CoordinationV1Api;

  constructor(
    kc: KubeConfig,
    readonly namespace: string,
    readonly name: string,
  ) {
    this.api = kc.makeApiClient(CoordinationV1Api);
  }

  async get(signal?: AbortSignal): Promise<LeaseRecord | undefined> {
    try {
      return toRecord(await this.api.readNamespacedLease({ name: this.name, namespace: this.namespace }, withSignal(signal)));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Returns undefined when someone else created it first. */
  async create(w: LeaseWrite, signal?: AbortSignal): Promise<LeaseRecord | undefined> {
    try {
      return toRecord(await this.api.createNamespacedLease({ namespace: this.namespace, body: this.body(w, undefined) }, withSignal(signal)));
    } catch (err) {
      if (isConflict(err)) return undefined;
      throw err;
    }
  }

  /** Returns undefined when the lease changed since `prev` was read. */
  async update(prev: LeaseRecord, w: LeaseWrite, signal?: AbortSignal): Promise<LeaseRecord | undefined> {
    try {
      return toRecord(await this.api.replaceNamespacedLease({ name: this.name, namespace: this.namespace, body: this.body(w, prev.resourceVersion) }, withSignal(signal)));
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

/** Per-call options that put `signal` on the request (client-node's fetch honours it). */
function withSignal(signal: AbortSignal | undefined): ConfigurationOptions | undefined {
  if (!signal) return undefined;
  return {
    middleware: [
      {
        pre: (c) => {
          c.setSignal(signal);
          return new Observable(Promise.resolve(c));
        },
        post: (c) => new Observable(Promise.resolve(c)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}

function toRecord(l: V1Lease): LeaseRecord {
  return {
    holder: l.spec?.holderIdentity ?? '',
    durationSeconds: l.spec?.leaseDurationSeconds ?? 15,
    acquireTime: l.spec?.acquireTime ? new Date(l.spec.acquireTime) : undefined,
    renewTime: l.spec?.renewTime ? new Date(l.spec.renewTime) : undefined,
    transitions: l.spec?.leaseTransitions ?? 0,
    resourceVersion: l.metadata?.resourceVersion ?? '',
    created: l.metadata?.creationTimestamp ? new Date(l.metadata.creationTimestamp) : undefined,
  };
}
