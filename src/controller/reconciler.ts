/**
 * Incremental reconciliation: keeps the objects indexed by owner name and namespace, so an
 * event re-evaluates only the owner names it touches (evaluateName), and reports per zone
 * only the RRsets that changed. A zone or selector change re-evaluates everything: those
 * are rare, records are many.
 */
import type { RecordType, RR } from '../dns/rr.js';
import type { Labels, NamespaceObject, RecordObject, ZoneSoaTimers, ZoneObject } from './objects.js';
import { recordKey } from './objects.js';
import { evaluateName, findZone, resolveZones, sameRRset, type NameOutcome, type RdataParser, type Verdict, type ZoneVerdict } from './policy.js';

export interface RRsetChange {
  readonly owner: string;
  readonly type: RecordType;
  /** The records before and after; an empty list means none. */
  readonly before: readonly RR[];
  readonly after: readonly RR[];
}

export interface ZoneSpec {
  readonly origin: string;
  readonly soa: ZoneSoaTimers;
  readonly defaultTTL: number;
}

export interface FlushResult {
  /** Zones that appeared or whose SOA parameters changed. */
  readonly zonesUpserted: readonly ZoneSpec[];
  readonly zonesRemoved: readonly string[];
  /** Changed RRsets per zone origin. */
  readonly changes: ReadonlyMap<string, readonly RRsetChange[]>;
  /** Records re-evaluated in this flush (their verdict may or may not have changed). */
  readonly records: ReadonlySet<string>;
  /** DNSZone object names whose status inputs changed. */
  readonly zones: ReadonlySet<string>;
}

function addTo<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  let s = m.get(k);
  if (!s) m.set(k, (s = new Set()));
  s.add(v);
}

function removeFrom<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  const s = m.get(k);
  if (!s) return;
  s.delete(v);
  if (s.size === 0) m.delete(k);
}

export class Reconciler {
  private readonly records = new Map<string, RecordObject>();
  private readonly byOwner = new Map<string, Set<string>>();
  private readonly byNamespace = new Map<string, Set<string>>();
  private readonly zoneObjects = new Map<string, ZoneObject>();
  private readonly namespaces = new Map<string, Labels>();
  private active = new Map<string, ZoneObject>();
  private zoneVerdicts = new Map<string, ZoneVerdict>();
  private readonly outcomes = new Map<string, NameOutcome>();
  private readonly verdicts = new Map<string, Verdict>();
  /** origin → owner → type → RRset: what each zone holds now. */
  private readonly contents = new Map<string, Map<string, Map<RecordType, readonly RR[]>>>();
  private readonly rrCount = new Map<string, number>();
  private dirtyNames = new Set<string>();
  private dirtyRecords = new Set<string>();
  private zonesDirty = false;

  constructor(private readonly parse: RdataParser) {}

  upsertRecord(r: RecordObject): void {
    const key = recordKey(r);
    const old = this.records.get(key);
    this.records.set(key, r);
    this.dirtyRecords.add(key);
    if (old && old.owner !== r.owner) {
      removeFrom(this.byOwner, old.owner, key);
      this.dirtyNames.add(old.owner);
    }
    addTo(this.byOwner, r.owner, key);
    addTo(this.byNamespace, r.meta.namespace, key);
    this.dirtyNames.add(r.owner);
  }

  deleteRecord(key: string): void {
    const old = this.records.get(key);
    if (!old) return;
    this.records.delete(key);
    this.verdicts.delete(key);
    this.dirtyRecords.delete(key);
    removeFrom(this.byOwner, old.owner, key);
    removeFrom(this.byNamespace, old.meta.namespace, key);
    this.dirtyNames.add(old.owner);
  }

  upsertZone(z: ZoneObject): void {
    this.zoneObjects.set(z.meta.name, z);
    this.zonesDirty = true;
  }

  deleteZone(name: string): void {
    if (this.zoneObjects.delete(name)) this.zonesDirty = true;
  }

  setNamespace(ns: NamespaceObject): void {
    const old = this.namespaces.get(ns.meta.name);
    if (old && sameLabels(old, ns.labels)) return;
    this.namespaces.set(ns.meta.name, ns.labels);
    this.dirtyNamespace(ns.meta.name);
  }

  deleteNamespace(name: string): void {
    if (this.namespaces.delete(name)) this.dirtyNamespace(name);
  }

  private dirtyNamespace(name: string): void {
    for (const key of this.byNamespace.get(name) ?? []) {
      const r = this.records.get(key);
      if (r) {
        this.dirtyNames.add(r.owner);
        this.dirtyRecords.add(key);
      }
    }
  }

  get pending(): boolean {
    return this.zonesDirty || this.dirtyNames.size > 0;
  }

  get pendingCount(): number {
    return this.dirtyNames.size + (this.zonesDirty ? 1 : 0);
  }

  verdict(key: string): Verdict | undefined {
    return this.verdicts.get(key);
  }

  record(key: string): RecordObject | undefined {
    return this.records.get(key);
  }

  allRecordKeys(): IterableIterator<string> {
    return this.records.keys();
  }

  zone(name: string): ZoneObject | undefined {
    return this.zoneObjects.get(name);
  }

  zoneVerdict(name: string): ZoneVerdict | undefined {
    return this.zoneVerdicts.get(name);
  }

  allZones(): IterableIterator<ZoneObject> {
    return this.zoneObjects.values();
  }

  /** The DNSZone object serving `origin`, if any. */
  activeZone(origin: string): ZoneObject | undefined {
    return this.active.get(origin);
  }

  activeOrigins(): IterableIterator<string> {
    return this.active.keys();
  }

  /** Records (RRs, SOA excluded) the zone holds now. */
  recordCount(origin: string): number {
    return this.rrCount.get(origin) ?? 0;
  }

  /** Every RR of the zone, SOA excluded: for a full push (takeover, new zone). */
  *zoneRecords(origin: string): Generator<RR> {
    for (const byType of this.contents.get(origin)?.values() ?? []) for (const rrs of byType.values()) yield* rrs;
  }

  flush(): FlushResult {
    const zonesUpserted: ZoneSpec[] = [];
    const zonesRemoved: string[] = [];
    const touchedZones = new Set<string>();
    let names: Iterable<string> = this.dirtyNames;
    if (this.zonesDirty) {
      this.zonesDirty = false;
      const before = this.active;
      const { active, verdicts } = resolveZones(this.zoneObjects.values());
      for (const [name, v] of verdicts) {
        const prev = this.zoneVerdicts.get(name);
        if (!prev || prev.accepted !== v.accepted) touchedZones.add(name);
      }
      for (const name of this.zoneVerdicts.keys()) if (!verdicts.has(name)) touchedZones.add(name);
      this.zoneVerdicts = verdicts;
      this.active = active;
      let reevaluate = false;
      for (const [origin, z] of active) {
        const old = before.get(origin);
        touchedZones.add(z.meta.name);
        if (!old || old.meta.uid !== z.meta.uid || !sameSoa(old.soa, z.soa) || old.defaultTTL !== z.defaultTTL) {
          zonesUpserted.push({ origin, soa: z.soa, defaultTTL: z.defaultTTL });
        }
        if (!old || old.defaultTTL !== z.defaultTTL || JSON.stringify(old.selector) !== JSON.stringify(z.selector)) reevaluate = true;
      }
      for (const origin of before.keys()) {
        if (!active.has(origin)) {
          zonesRemoved.push(origin);
          reevaluate = true;
        }
      }
      if (reevaluate) {
        const all = new Set(this.dirtyNames);
        for (const owner of this.byOwner.keys()) all.add(owner);
        for (const owner of this.outcomes.keys()) all.add(owner);
        names = all;
        for (const k of this.records.keys()) this.dirtyRecords.add(k);
      }
    }

    const changes = new Map<string, RRsetChange[]>();
    const pushChange = (origin: string, c: RRsetChange): void => {
      let list = changes.get(origin);
      if (!list) changes.set(origin, (list = []));
      list.push(c);
    };
    const touched = this.dirtyRecords;
    for (const owner of names) {
      const keys = this.byOwner.get(owner);
      const recs: RecordObject[] = [];
      for (const k of keys ?? []) {
        const r = this.records.get(k);
        if (r) recs.push(r);
        touched.add(k);
      }
      const zone = findZone(owner, this.active);
      const outcome = evaluateName(owner, recs, zone, (ns) => this.namespaces.get(ns), this.parse);
      const old = this.outcomes.get(owner);
      for (const [k, v] of outcome.verdicts) this.verdicts.set(k, v);
      if (recs.length > 0) this.outcomes.set(owner, outcome);
      else this.outcomes.delete(owner);
      this.diffOutcome(old, outcome, pushChange);
      // A zone's record count is part of its status.
      if (old?.zone) touchedZones.add(this.active.get(old.zone)?.meta.name ?? '');
      if (outcome.zone) touchedZones.add(this.active.get(outcome.zone)?.meta.name ?? '');
    }
    for (const origin of zonesRemoved) {
      this.contents.delete(origin);
      this.rrCount.delete(origin);
      changes.delete(origin);
    }
    touchedZones.delete('');
    this.dirtyNames = new Set();
    this.dirtyRecords = new Set();
    return { zonesUpserted, zonesRemoved, changes, records: touched, zones: touchedZones };
  }

  private diffOutcome(old: NameOutcome | undefined, now: NameOutcome, push: (origin: string, c: RRsetChange) => void): void {
    const owner = now.owner;
    if (old?.zone && old.zone !== now.zone) {
      for (const [type, rrs] of old.rrsets) {
        if (this.active.has(old.zone)) push(old.zone, { owner, type, before: rrs, after: [] });
        this.setContent(old.zone, owner, type, undefined);
      }
    }
    if (!now.zone) return;
    const prev = old?.zone === now.zone ? old.rrsets : new Map<RecordType, readonly RR[]>();
    for (const [type, rrs] of now.rrsets) {
      const before = prev.get(type) ?? [];
      if (!sameRRset(before, rrs)) {
        push(now.zone, { owner, type, before, after: rrs });
        this.setContent(now.zone, owner, type, rrs);
      }
    }
    for (const [type, rrs] of prev) {
      if (!now.rrsets.has(type)) {
        push(now.zone, { owner, type, before: rrs, after: [] });
        this.setContent(now.zone, owner, type, undefined);
      }
    }
  }

  private setContent(origin: string, owner: string, type: RecordType, rrs: readonly RR[] | undefined): void {
    let byOwner = this.contents.get(origin);
    if (!byOwner) this.contents.set(origin, (byOwner = new Map()));
    let byType = byOwner.get(owner);
    const before = byType?.get(type)?.length ?? 0;
    if (rrs && rrs.length > 0) {
      if (!byType) byOwner.set(owner, (byType = new Map()));
      byType.set(type, rrs);
    } else if (byType) {
      byType.delete(type);
      if (byType.size === 0) byOwner.delete(owner);
    }
    this.rrCount.set(origin, (this.rrCount.get(origin) ?? 0) - before + (rrs?.length ?? 0));
  }
}

function sameLabels(a: Labels, b: Labels): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => a[k] === b[k]);
}

function sameSoa(a: ZoneSoaTimers, b: ZoneSoaTimers): boolean {
  return a.refresh === b.refresh && a.retry === b.retry && a.expire === b.expire && a.negativeTTL === b.negativeTTL;
}

function rrKey(rr: RR): string {
  return `${JSON.stringify(rr.data)}\u0000${rr.ttl}`;
}

/** RRset change → record-level delete/add lists (unchanged records stay out). */
export function rrDiff(changes: readonly RRsetChange[]): { deleted: RR[]; added: RR[] } {
  const deleted: RR[] = [];
  const added: RR[] = [];
  for (const c of changes) {
    const after = new Set(c.after.map(rrKey));
    const before = new Set(c.before.map(rrKey));
    for (const rr of c.before) if (!after.has(rrKey(rr))) deleted.push(rr);
    for (const rr of c.after) if (!before.has(rrKey(rr))) added.push(rr);
  }
  return { deleted, added };
}
