/** Builders for unit tests of the pure reconcile functions (no API server involved). */
import type { RecordType } from '../../src/dns/rr.js';
import { DEFAULT_ZONE_SOA, type LabelSelector, type RecordObject, type ZoneObject } from '../../src/controller/objects.js';

let uid = 0;

export function zoneObj(name: string, origin: string, opts: { created?: number; defaultTTL?: number; selector?: LabelSelector } = {}): ZoneObject {
  return {
    meta: { name, uid: `z${++uid}`, resourceVersion: '1', generation: 1, created: opts.created ?? 1000 },
    origin,
    defaultTTL: opts.defaultTTL ?? 30,
    soa: DEFAULT_ZONE_SOA,
    selector: opts.selector,
    status: undefined,
  };
}

export function recordObj(ns: string, name: string, owner: string, type: RecordType, values: string[], opts: { created?: number; ttl?: number; generation?: number } = {}): RecordObject {
  return {
    meta: { name, namespace: ns, uid: `r${++uid}`, resourceVersion: '1', generation: opts.generation ?? 1, created: opts.created ?? 1000 },
    owner,
    type,
    ttl: opts.ttl,
    values,
    status: undefined,
  };
}
