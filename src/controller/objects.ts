/**
 * The controller's view of the API objects it reconciles: only the fields reconciliation
 * reads, already normalised (canonical names, timestamps in ms). Decoding from the wire
 * lives in decode.ts, so everything else here is plain data.
 */
import type { RecordType } from '../api/types.js';

export type Labels = Readonly<Record<string, string>>;

export interface LabelSelectorRequirement {
  readonly key: string;
  readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  readonly values?: readonly string[] | undefined;
}

export interface LabelSelector {
  readonly matchLabels?: Labels | undefined;
  readonly matchExpressions?: readonly LabelSelectorRequirement[] | undefined;
}

/** A DNSZone's SOA timers with the defaults filled in (not the sync engine's SoaParams). */
export interface ZoneSoaTimers {
  readonly refresh: number;
  readonly retry: number;
  readonly expire: number;
  readonly negativeTTL: number;
}

export interface Meta {
  readonly name: string;
  readonly namespace?: string | undefined;
  readonly uid: string;
  readonly resourceVersion: string;
  readonly generation: number;
  /** creationTimestamp in ms since the epoch. */
  readonly created: number;
}

export interface ZoneObject {
  readonly meta: Meta;
  /** Canonical zone name (lower-case, no trailing dot). */
  readonly origin: string;
  readonly defaultTTL: number;
  readonly soa: ZoneSoaTimers;
  /** Absent: every namespace may publish in this zone. */
  readonly selector: LabelSelector | undefined;
  readonly status: unknown;
}

export interface RecordObject {
  readonly meta: Meta & { readonly namespace: string };
  /** Canonical owner name. */
  readonly owner: string;
  readonly type: RecordType;
  readonly ttl: number | undefined;
  readonly values: readonly string[];
  readonly status: unknown;
}

export interface NamespaceObject {
  readonly meta: Meta;
  readonly labels: Labels;
}

export interface AgentPod {
  readonly meta: Meta;
  readonly podIP: string | undefined;
  /** spec.nodeName: where the agent runs (shown in status). */
  readonly node?: string | undefined;
  readonly ready: boolean;
  readonly deleting: boolean;
}

export const DEFAULT_ZONE_SOA: ZoneSoaTimers = { refresh: 60, retry: 10, expire: 3600, negativeTTL: 5 };
export const DEFAULT_TTL = 30;

export function recordKey(r: { meta: { namespace?: string | undefined; name: string } }): string {
  return `${r.meta.namespace ?? ''}/${r.meta.name}`;
}
