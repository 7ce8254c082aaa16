/**
 * Raw API objects (watch JSON, or client-node's deserialised list items) → the controller's
 * plain objects. Anything that does not have the shape the CRD schema promises is dropped
 * (undefined) rather than guessed at; the informer logs it.
 */
import { RECORD_TYPES, canonicalName, type RecordType } from '../dns/rr.js';
import { DEFAULT_SOA, DEFAULT_TTL, type AgentPod, type LabelSelector, type Labels, type Meta, type NamespaceObject, type RecordObject, type ZoneObject } from './objects.js';

type Obj = Record<string, unknown>;

function obj(x: unknown): Obj | undefined {
  return typeof x === 'object' && x !== null && !Array.isArray(x) ? (x as Obj) : undefined;
}

function str(x: unknown): string | undefined {
  return typeof x === 'string' ? x : undefined;
}

function int(x: unknown): number | undefined {
  return typeof x === 'number' && Number.isInteger(x) ? x : undefined;
}

function time(x: unknown): number {
  if (x instanceof Date) return x.getTime();
  if (typeof x === 'string') {
    const t = Date.parse(x);
    return Number.isNaN(t) ? 0 : t;
  }
  return 0;
}

function labels(x: unknown): Labels {
  const o = obj(x);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(o ?? {})) if (typeof v === 'string') out[k] = v;
  return out;
}

export function decodeMeta(raw: unknown): Meta | undefined {
  const m = obj(obj(raw)?.metadata);
  const name = str(m?.name);
  if (!m || !name) return undefined;
  return {
    name,
    namespace: str(m.namespace),
    uid: str(m.uid) ?? '',
    resourceVersion: str(m.resourceVersion) ?? '',
    generation: int(m.generation) ?? 0,
    created: time(m.creationTimestamp),
  };
}

function selector(x: unknown): LabelSelector | undefined {
  const o = obj(x);
  if (!o) return undefined;
  const exprs = Array.isArray(o.matchExpressions) ? o.matchExpressions : [];
  return {
    matchLabels: labels(o.matchLabels),
    matchExpressions: exprs.flatMap((e) => {
      const r = obj(e);
      const key = str(r?.key);
      const op = str(r?.operator);
      if (!r || !key || (op !== 'In' && op !== 'NotIn' && op !== 'Exists' && op !== 'DoesNotExist')) return [];
      const values = Array.isArray(r.values) ? r.values.filter((v): v is string => typeof v === 'string') : [];
      return [{ key, operator: op, values }];
    }),
  };
}

export function decodeZone(raw: unknown): ZoneObject | undefined {
  const meta = decodeMeta(raw);
  const spec = obj(obj(raw)?.spec);
  const zone = str(spec?.zone);
  if (!meta || !spec || zone === undefined) return undefined;
  const soa = obj(spec.soa) ?? {};
  return {
    meta,
    origin: canonicalName(zone),
    defaultTTL: int(spec.defaultTTL) ?? DEFAULT_TTL,
    soa: {
      refresh: int(soa.refresh) ?? DEFAULT_SOA.refresh,
      retry: int(soa.retry) ?? DEFAULT_SOA.retry,
      expire: int(soa.expire) ?? DEFAULT_SOA.expire,
      negativeTTL: int(soa.negativeTTL) ?? DEFAULT_SOA.negativeTTL,
    },
    selector: selector(spec.namespaceSelector),
    status: obj(raw)?.status,
  };
}

export function decodeRecord(raw: unknown): RecordObject | undefined {
  const meta = decodeMeta(raw);
  const spec = obj(obj(raw)?.spec);
  const name = str(spec?.name);
  const type = str(spec?.type);
  if (!meta || !meta.namespace || !spec || name === undefined || !RECORD_TYPES.includes(type as RecordType)) return undefined;
  const values = Array.isArray(spec.values) ? spec.values.filter((v): v is string => typeof v === 'string') : [];
  return {
    meta: { ...meta, namespace: meta.namespace },
    owner: canonicalName(name),
    type: type as RecordType,
    ttl: int(spec.ttl),
    values,
    status: obj(raw)?.status,
  };
}

export function decodeNamespace(raw: unknown): NamespaceObject | undefined {
  const meta = decodeMeta(raw);
  if (!meta) return undefined;
  return { meta, labels: labels(obj(obj(raw)?.metadata)?.labels) };
}

export function decodePod(raw: unknown): AgentPod | undefined {
  const meta = decodeMeta(raw);
  if (!meta) return undefined;
  const status = obj(obj(raw)?.status);
  const conds = Array.isArray(status?.conditions) ? status.conditions : [];
  const ready = conds.some((c) => {
    const o = obj(c);
    return o?.type === 'Ready' && o.status === 'True';
  });
  const podIP = str(status?.podIP);
  const node = str(obj(obj(raw)?.spec)?.nodeName);
  return {
    meta,
    podIP: podIP === '' ? undefined : podIP,
    node: node === '' ? undefined : node,
    ready,
    deleting: obj(obj(raw)?.metadata)?.deletionTimestamp !== undefined && obj(obj(raw)?.metadata)?.deletionTimestamp !== null,
  };
}

/** Same spec: an update that changed only status or metadata needs no reconcile. */
export function sameRecordSpec(a: RecordObject, b: RecordObject): boolean {
  return (
    a.meta.generation === b.meta.generation &&
    a.meta.uid === b.meta.uid &&
    a.owner === b.owner &&
    a.type === b.type &&
    a.ttl === b.ttl &&
    a.values.length === b.values.length &&
    a.values.every((v, i) => v === b.values[i])
  );
}
