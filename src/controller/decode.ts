/**
 * Raw API objects (watch JSON, or client-node's deserialised list items) → the controller's
 * plain objects, in two steps: the spec is read into the type generated from the CRD
 * (api/types.ts: DNSRecordSpec, DNSZoneSpec), then normalised. Anything that does not have
 * the shape the CRD schema promises is dropped (undefined) rather than guessed at; the
 * informer logs it. decode.test.ts checks the spec readers against the CRD schemas: every
 * field the schema defines is read.
 */
import { RECORD_TYPES, type DNSRecordSpec, type DNSZoneSpec, type LabelSelector as ApiLabelSelector, type RecordType, type SOATimers } from '../api/types.js';
import { canonicalName } from '../dns/rr.js';
import { DEFAULT_ZONE_SOA, DEFAULT_TTL, type AgentPod, type Labels, type Meta, type NamespaceObject, type RecordObject, type ZoneObject } from './objects.js';

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

function isRecordType(t: string | undefined): t is RecordType {
  return RECORD_TYPES.includes(t as RecordType);
}

function strings(x: unknown): string[] {
  return Array.isArray(x) ? x.filter((v): v is string => typeof v === 'string') : [];
}

/** Sets `key` on `o` only when `v` is defined (optional fields stay absent, not undefined). */
function opt<T extends object, K extends keyof T>(o: T, key: K, v: T[K] | undefined): void {
  if (v !== undefined) o[key] = v;
}

function apiSelector(x: unknown): ApiLabelSelector | undefined {
  const o = obj(x);
  if (!o) return undefined;
  const out: ApiLabelSelector = {};
  if (o.matchLabels !== undefined) out.matchLabels = labels(o.matchLabels);
  if (Array.isArray(o.matchExpressions)) {
    out.matchExpressions = o.matchExpressions.flatMap((e) => {
      const r = obj(e);
      const key = str(r?.key);
      const op = str(r?.operator);
      if (!r || !key || (op !== 'In' && op !== 'NotIn' && op !== 'Exists' && op !== 'DoesNotExist')) return [];
      return [{ key, operator: op, values: strings(r.values) }];
    });
  }
  return out;
}

function soaTimers(x: unknown): SOATimers | undefined {
  const o = obj(x);
  if (!o) return undefined;
  const out: SOATimers = {};
  opt(out, 'refresh', int(o.refresh));
  opt(out, 'retry', int(o.retry));
  opt(out, 'expire', int(o.expire));
  opt(out, 'negativeTTL', int(o.negativeTTL));
  return out;
}

/** A DNSZone's spec as the CRD defines it; undefined without its required `zone`. */
export function zoneSpec(raw: unknown): DNSZoneSpec | undefined {
  const s = obj(obj(raw)?.spec);
  const zone = str(s?.zone);
  if (!s || zone === undefined) return undefined;
  const out: DNSZoneSpec = { zone };
  opt(out, 'defaultTTL', int(s.defaultTTL));
  opt(out, 'soa', soaTimers(s.soa));
  opt(out, 'namespaceSelector', apiSelector(s.namespaceSelector));
  return out;
}

/** A DNSRecord's spec as the CRD defines it; undefined without a name or a known type. */
export function recordSpec(raw: unknown): DNSRecordSpec | undefined {
  const s = obj(obj(raw)?.spec);
  const name = str(s?.name);
  const type = str(s?.type);
  if (!s || name === undefined || !isRecordType(type)) return undefined;
  const out: DNSRecordSpec = { name, type, values: strings(s.values) };
  opt(out, 'ttl', int(s.ttl));
  return out;
}

export function decodeZone(raw: unknown): ZoneObject | undefined {
  const meta = decodeMeta(raw);
  const spec = zoneSpec(raw);
  if (!meta || !spec) return undefined;
  const soa = spec.soa ?? {};
  const sel = spec.namespaceSelector;
  return {
    meta,
    origin: canonicalName(spec.zone),
    defaultTTL: spec.defaultTTL ?? DEFAULT_TTL,
    soa: {
      refresh: soa.refresh ?? DEFAULT_ZONE_SOA.refresh,
      retry: soa.retry ?? DEFAULT_ZONE_SOA.retry,
      expire: soa.expire ?? DEFAULT_ZONE_SOA.expire,
      negativeTTL: soa.negativeTTL ?? DEFAULT_ZONE_SOA.negativeTTL,
    },
    selector: sel && { matchLabels: sel.matchLabels ?? {}, matchExpressions: sel.matchExpressions ?? [] },
    status: obj(raw)?.status,
  };
}

export function decodeRecord(raw: unknown): RecordObject | undefined {
  const meta = decodeMeta(raw);
  const spec = recordSpec(raw);
  if (!meta || !meta.namespace || !spec) return undefined;
  return {
    meta: { ...meta, namespace: meta.namespace },
    owner: canonicalName(spec.name),
    type: spec.type,
    ttl: spec.ttl,
    values: spec.values,
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
