/**
 * What a DNSRecord's and a DNSZone's status should say, as pure functions of the verdict
 * and the agents' acknowledgements. Conditions follow metav1.Condition; a condition keeps
 * its lastTransitionTime while its status stays the same, so an unchanged status compares
 * equal and is never written again.
 */
import type { ZoneBehind } from './agent-status.js';
import type { Verdict, ZoneVerdict } from './policy.js';

export interface Condition {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly observedGeneration: number;
  readonly lastTransitionTime: string;
  readonly reason: string;
  readonly message: string;
}

export interface RecordStatus {
  readonly observedGeneration: number;
  readonly zone?: string;
  readonly nodes: string;
  readonly conditions: readonly Condition[];
}

export interface ZoneStatus {
  readonly observedGeneration: number;
  readonly serial?: number;
  readonly records: number;
  readonly nodes: string;
  /** Agents behind the current serial for a while (agent-status.ts); absent until known. */
  readonly behind?: ZoneBehind;
  readonly conditions: readonly Condition[];
}

/** How many ready agents hold a serial at or after the one needed, out of how many. */
export interface Propagation {
  readonly acked: number;
  readonly total: number;
}

type ConditionInput = Omit<Condition, 'lastTransitionTime'>;

function isCondition(c: unknown): c is Condition {
  return typeof c === 'object' && c !== null && typeof (c as Condition).type === 'string' && typeof (c as Condition).status === 'string';
}

export function conditionsOf(status: unknown): readonly Condition[] {
  const list = (status as { conditions?: unknown } | undefined)?.conditions;
  return Array.isArray(list) ? list.filter(isCondition) : [];
}

export function findCondition(status: unknown, type: string): Condition | undefined {
  return conditionsOf(status).find((c) => c.type === type);
}

/** The condition with lastTransitionTime carried over unless its status flipped. */
export function withTransition(prev: readonly Condition[], next: ConditionInput, now: string): Condition {
  const old = prev.find((c) => c.type === next.type);
  const lastTransitionTime = old && old.status === next.status && typeof old.lastTransitionTime === 'string' ? old.lastTransitionTime : now;
  return { type: next.type, status: next.status, observedGeneration: next.observedGeneration, lastTransitionTime, reason: next.reason, message: next.message };
}

export function nodesColumn(p: Propagation): string {
  return `${p.acked}/${p.total}`;
}

export function recordStatus(generation: number, verdict: Verdict, prop: Propagation, prev: unknown, now: string): RecordStatus {
  const old = conditionsOf(prev);
  const g = generation;
  if (!verdict.accepted) {
    return {
      observedGeneration: g,
      ...(verdict.zone !== undefined ? { zone: verdict.zone } : {}),
      nodes: '-',
      conditions: [
        withTransition(old, { type: 'Accepted', status: 'False', observedGeneration: g, reason: verdict.reason, message: verdict.message }, now),
        withTransition(old, { type: 'Ready', status: 'False', observedGeneration: g, reason: 'NotAccepted', message: 'the record is not served: see the Accepted condition' }, now),
      ],
    };
  }
  const ready = readyCondition(g, prop);
  return {
    observedGeneration: g,
    zone: verdict.zone,
    nodes: nodesColumn(prop),
    conditions: [
      withTransition(old, { type: 'Accepted', status: 'True', observedGeneration: g, reason: 'Accepted', message: `served in zone ${verdict.zone}` }, now),
      withTransition(old, ready, now),
    ],
  };
}

function readyCondition(g: number, prop: Propagation): ConditionInput {
  if (prop.total === 0) return { type: 'Ready', status: 'False', observedGeneration: g, reason: 'NoAgents', message: 'no ready agents to apply it on (applied on 0/0 nodes)' };
  const message = `applied on ${prop.acked}/${prop.total} nodes`;
  if (prop.acked >= prop.total) return { type: 'Ready', status: 'True', observedGeneration: g, reason: 'Applied', message };
  return { type: 'Ready', status: 'False', observedGeneration: g, reason: 'Propagating', message };
}

export function zoneStatus(generation: number, verdict: ZoneVerdict, serial: number | undefined, records: number, prop: Propagation, prev: unknown, now: string, behind?: ZoneBehind): ZoneStatus {
  const old = conditionsOf(prev);
  const g = generation;
  if (!verdict.accepted) {
    return {
      observedGeneration: g,
      records: 0,
      nodes: '-',
      conditions: [
        withTransition(old, { type: 'Accepted', status: 'False', observedGeneration: g, reason: verdict.reason, message: verdict.message }, now),
        withTransition(old, { type: 'Ready', status: 'False', observedGeneration: g, reason: 'NotAccepted', message: 'the zone is not served: see the Accepted condition' }, now),
      ],
    };
  }
  return {
    observedGeneration: g,
    ...(serial !== undefined ? { serial } : {}),
    records,
    nodes: nodesColumn(prop),
    ...(behind !== undefined ? { behind } : {}),
    conditions: [
      withTransition(old, { type: 'Accepted', status: 'True', observedGeneration: g, reason: 'Accepted', message: 'zone is served' }, now),
      withTransition(old, readyCondition(g, prop), now),
    ],
  };
}

/**
 * Deep equality of two JSON-shaped statuses, key order ignored. Runs for every record on
 * every acknowledgement pass, so the common shape (ours) is compared field by field first.
 */
export function sameStatus(a: unknown, b: unknown): boolean {
  const fast = sameOurShape(a, b);
  if (fast !== undefined) return fast;
  return canonical(a) === canonical(b);
}

const STATUS_KEYS = new Set(['observedGeneration', 'zone', 'serial', 'records', 'nodes', 'conditions']);
const CONDITION_KEYS = ['type', 'status', 'observedGeneration', 'lastTransitionTime', 'reason', 'message'] as const;

/** Undefined when either side has a shape this fast path does not know. */
function sameOurShape(a: unknown, b: unknown): boolean | undefined {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return undefined;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  for (const k of Object.keys(x)) if (!STATUS_KEYS.has(k)) return undefined;
  for (const k of Object.keys(y)) if (!STATUS_KEYS.has(k)) return undefined;
  if (x['observedGeneration'] !== y['observedGeneration'] || x['zone'] !== y['zone'] || x['serial'] !== y['serial'] || x['records'] !== y['records'] || x['nodes'] !== y['nodes']) return false;
  const cx = x['conditions'];
  const cy = y['conditions'];
  if (!Array.isArray(cx) || !Array.isArray(cy)) return cx === cy ? true : undefined;
  if (cx.length !== cy.length) return false;
  for (let i = 0; i < cx.length; i++) {
    const p = cx[i] as Record<string, unknown> | null;
    const q = cy[i] as Record<string, unknown> | null;
    if (typeof p !== 'object' || p === null || typeof q !== 'object' || q === null) return undefined;
    if (Object.keys(p).length !== CONDITION_KEYS.length || Object.keys(q).length !== CONDITION_KEYS.length) return undefined;
    for (const k of CONDITION_KEYS) if (p[k] !== q[k]) return false;
  }
  return true;
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'undefined';
}

/**
 * Whether moving from `prev` to `next` is a refusal a person should hear about: the record
 * was not refused for this reason before (new, previously accepted, or another reason).
 */
export function refusalTransition(prev: unknown, next: RecordStatus | ZoneStatus): Condition | undefined {
  const now = next.conditions.find((c) => c.type === 'Accepted');
  if (!now || now.status !== 'False') return undefined;
  const before = findCondition(prev, 'Accepted');
  if (before && before.status === 'False' && before.reason === now.reason && before.message === now.message) return undefined;
  return now;
}

/**
 * Whether `next` differs from `prev` only in how many nodes it counts (the nodes column and
 * the Ready message), not in what it says: such a write can wait behind ones that do.
 */
export function onlyCountChanged(prev: unknown, next: RecordStatus | ZoneStatus): boolean {
  if (typeof prev !== 'object' || prev === null) return false;
  const p = prev as Record<string, unknown>;
  const n = next as unknown as Record<string, unknown>;
  for (const k of ['observedGeneration', 'zone', 'serial', 'records']) if (p[k] !== n[k]) return false;
  const before = conditionsOf(prev);
  if (before.length !== next.conditions.length) return false;
  return next.conditions.every((c) => {
    const o = before.find((b) => b.type === c.type);
    if (!o || o.status !== c.status || o.reason !== c.reason || o.observedGeneration !== c.observedGeneration || o.lastTransitionTime !== c.lastTransitionTime) return false;
    return c.type === 'Ready' || o.message === c.message;
  });
}
