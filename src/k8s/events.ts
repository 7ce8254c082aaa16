/**
 * Kubernetes Events (core/v1) about our objects: what `kubectl describe` shows a person
 * who must act. Fire-and-forget with a log line on failure: an Event is a courtesy, it
 * must never block or fail reconciliation.
 */
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../observability/logger.js';
import { errorMessage, isNamespaceTerminating } from './errors.js';

export interface InvolvedObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  /** Cluster-scoped objects get their Events in `default`, as kubectl looks there. */
  readonly namespace?: string | undefined;
  readonly uid: string;
  readonly resourceVersion?: string | undefined;
}

export interface EventToEmit {
  readonly object: InvolvedObject;
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
}

export class EventRecorder {
  private readonly api: CoreV1Api;
  private seq = 0;

  constructor(
    kc: KubeConfig,
    private readonly component: string,
    private readonly instance: string,
    private readonly log: Logger,
  ) {
    this.api = kc.makeApiClient(CoreV1Api);
  }

  async emit(e: EventToEmit): Promise<void> {
    const namespace = e.object.namespace ?? 'default';
    const now = new Date();
    try {
      await this.api.createNamespacedEvent({
        namespace,
        body: {
          metadata: { name: `${e.object.name}.${now.getTime().toString(16)}${(this.seq++).toString(16)}`, namespace },
          involvedObject: {
            apiVersion: e.object.apiVersion,
            kind: e.object.kind,
            name: e.object.name,
            ...(e.object.namespace ? { namespace: e.object.namespace } : {}),
            uid: e.object.uid,
            ...(e.object.resourceVersion ? { resourceVersion: e.object.resourceVersion } : {}),
          },
          type: e.type,
          reason: e.reason,
          message: e.message,
          count: 1,
          firstTimestamp: now,
          lastTimestamp: now,
          source: { component: this.component },
          reportingComponent: this.component,
          reportingInstance: this.instance,
        },
      });
    } catch (err) {
      // As client-go's recorder does: an Event for an object whose namespace is going away
      // has no reader, and the 403 is the apiserver saying so, not a missing permission.
      if (isNamespaceTerminating(err)) {
        this.log.debug({ namespace, reason: e.reason, record: e.object.name }, 'namespace terminating: Event dropped');
        return;
      }
      this.log.warn({ err: errorMessage(err), reason: e.reason, record: e.object.name }, 'could not create Event');
    }
  }
}
