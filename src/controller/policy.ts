/**
 * The rules that need the whole picture, as pure functions: which zone a name lies in,
 * whether a namespace may publish there, and — for all the DNSRecords sharing one owner
 * name — which of them are accepted, merged into which RRsets, and why the others are
 * refused. Every outcome depends only on the objects, never on event order, so a standby
 * that takes over computes exactly what the old leader did.
 */
import type { RecordType, RR } from '../dns/rr.js';
import type { LabelSelector, Labels, RecordObject, ZoneObject } from './objects.js';
import { recordKey } from './objects.js';
import { MAX_RRSET_OCTETS, recordOctets, roughRecordOctets } from './rrset-size.js';

export type RefusalReason = 'NoZone' | 'NamespaceNotAllowed' | 'CNAMEConflict' | 'NameConflict' | 'InvalidValue' | 'RRsetTooLarge';

export type Verdict =
  | { readonly accepted: true; readonly zone: string }
  | { readonly accepted: false; readonly zone: string | undefined; readonly reason: RefusalReason; readonly message: string };

/** Converts one presentation-format value to dns-packet rdata; throws on bad input. */
export type RdataParser = (type: RecordType, text: string, origin: string) => unknown;

export interface NameOutcome {
  readonly owner: string;
  readonly zone: string | undefined;
  /** Accepted RRsets at this name, by type. */
  readonly rrsets: ReadonlyMap<RecordType, readonly RR[]>;
  /** By record key (namespace/name). */
  readonly verdicts: ReadonlyMap<string, Verdict>;
}

export function selectorMatches(sel: LabelSelector | undefined, labels: Labels): boolean {
  if (!sel) return true;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const v = labels[e.key];
    const values = e.values ?? [];
    switch (e.operator) {
      case 'In':
        if (!has || !values.includes(v as string)) return false;
        break;
      case 'NotIn':
        if (has && values.includes(v as string)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

/** The most specific zone containing `owner` (zones keyed by canonical origin). */
export function findZone<Z>(owner: string, zones: ReadonlyMap<string, Z>): Z | undefined {
  let name = owner;
  for (;;) {
    const z = zones.get(name);
    if (z !== undefined) return z;
    if (name === '') return undefined;
    const dot = name.indexOf('.');
    name = dot < 0 ? '' : name.slice(dot + 1);
  }
}

/** Oldest first; ties broken by namespace/name so the order is total and stable. */
export function byAge(a: { meta: { created: number; namespace?: string | undefined; name: string } }, b: typeof a): number {
  if (a.meta.created !== b.meta.created) return a.meta.created - b.meta.created;
  const ka = `${a.meta.namespace ?? ''}/${a.meta.name}`;
  const kb = `${b.meta.namespace ?? ''}/${b.meta.name}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

function dataKey(data: unknown): string {
  return JSON.stringify(data);
}

/** Decides every DNSRecord whose owner name is `owner`; `records` all have that owner. */
export function evaluateName(
  owner: string,
  records: readonly RecordObject[],
  zone: ZoneObject | undefined,
  namespaceLabels: (ns: string) => Labels | undefined,
  parse: RdataParser,
): NameOutcome {
  const verdicts = new Map<string, Verdict>();
  const rrsets = new Map<RecordType, readonly RR[]>();
  const refuse = (r: RecordObject, reason: RefusalReason, message: string): void => {
    verdicts.set(recordKey(r), { accepted: false, zone: zone?.origin, reason, message });
  };
  if (!zone) {
    for (const r of records) refuse(r, 'NoZone', `${owner || '.'} lies in no DNSZone`);
    return { owner, zone: undefined, rrsets, verdicts };
  }

  // Parsed values per eligible record; order = age, so ownership is decided by the oldest.
  const eligible: Array<{ r: RecordObject; data: unknown[] }> = [];
  for (const r of [...records].sort(byAge)) {
    if (!selectorMatches(zone.selector, namespaceLabels(r.meta.namespace) ?? {})) {
      refuse(r, 'NamespaceNotAllowed', `namespace ${r.meta.namespace} is not allowed to publish in zone ${zone.origin} (DNSZone ${zone.meta.name} namespaceSelector)`);
      continue;
    }
    try {
      eligible.push({ r, data: r.values.map((v) => parse(r.type, v, zone.origin)) });
    } catch (err) {
      refuse(r, 'InvalidValue', `invalid ${r.type} value: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  // Per type: the oldest record's namespace owns the RRset; its namespace's records merge.
  const winners = new Map<RecordType, Array<{ r: RecordObject; data: unknown[] }>>();
  for (const e of eligible) {
    const group = winners.get(e.r.type);
    if (!group) {
      if (e.r.type === 'CNAME' && owner === zone.origin) {
        refuse(e.r, 'CNAMEConflict', `a CNAME cannot be placed at the zone apex ${zone.origin}`);
        continue;
      }
      winners.set(e.r.type, [e]);
      continue;
    }
    const first = group[0] as { r: RecordObject };
    if (first.r.meta.namespace !== e.r.meta.namespace) {
      refuse(e.r, 'NameConflict', `${e.r.type} ${owner} is already owned by namespace ${first.r.meta.namespace} (DNSRecord ${recordKey(first.r)} is older)`);
    } else if (e.r.type === 'CNAME') {
      refuse(e.r, 'CNAMEConflict', `${owner} already has a CNAME (DNSRecord ${recordKey(first.r)}); a name holds one CNAME`);
    } else {
      group.push(e);
    }
  }

  // A CNAME excludes all other data at its name: the older side stays.
  const cname = winners.get('CNAME');
  if (cname && winners.size > 1) {
    const cnameFirst = (cname[0] as { r: RecordObject }).r;
    let otherFirst: RecordObject | undefined;
    for (const [type, group] of winners) {
      if (type === 'CNAME') continue;
      const f = (group[0] as { r: RecordObject }).r;
      if (!otherFirst || byAge(f, otherFirst) < 0) otherFirst = f;
    }
    if (otherFirst && byAge(cnameFirst, otherFirst) < 0) {
      for (const [type, group] of winners) {
        if (type === 'CNAME') continue;
        for (const e of group) refuse(e.r, 'CNAMEConflict', `${owner} is a CNAME (DNSRecord ${recordKey(cnameFirst)}); no other data may share its name`);
        winners.delete(type);
      }
    } else if (otherFirst) {
      for (const e of cname) refuse(e.r, 'CNAMEConflict', `${owner} already has ${otherFirst.type} data (DNSRecord ${recordKey(otherFirst)}); a CNAME cannot share its name`);
      winners.delete('CNAME');
    }
  }

  for (const [type, group] of winners) {
    let ttl = Number.POSITIVE_INFINITY;
    const seen = new Map<string, unknown>();
    // Size: a cheap upper bound while it stays well under the limit, exact once it does not.
    let rough = 0;
    let exact: number | undefined;
    for (const e of group) {
      const fresh = new Map<string, { data: unknown; text: string }>();
      e.data.forEach((d, i) => {
        const k = dataKey(d);
        if (!seen.has(k)) fresh.set(k, { data: d, text: e.r.values[i] ?? '' });
      });
      let roughAdd = 0;
      for (const f of fresh.values()) roughAdd += roughRecordOctets(f.text);
      if (exact === undefined && rough + roughAdd <= MAX_RRSET_OCTETS) {
        rough += roughAdd;
      } else {
        exact ??= [...seen.values()].reduce<number>((n, d) => n + recordOctets(owner, type, d), 0);
        let add = 0;
        for (const f of fresh.values()) add += recordOctets(owner, type, f.data);
        // The older records stay served; this one, which would make the RRset unservable, is
        // refused (the order is by age, so a standby refuses the same one).
        if (exact + add > MAX_RRSET_OCTETS) {
          refuse(
            e.r,
            'RRsetTooLarge',
            `the ${type} RRset at ${owner || '.'} would take ${exact + add} octets with this record's ${e.r.values.length} value(s), over the limit of ${MAX_RRSET_OCTETS} (an answer must fit one 65,535-octet DNS message over TCP)` +
              (seen.size > 0 ? `; the ${seen.size} value(s) of older records stay served` : ''),
          );
          continue;
        }
        exact += add;
      }
      for (const [k, f] of fresh) seen.set(k, f.data);
      ttl = Math.min(ttl, e.r.ttl ?? zone.defaultTTL);
      verdicts.set(recordKey(e.r), { accepted: true, zone: zone.origin });
    }
    if (seen.size === 0) continue;
    const rrs: RR[] = [];
    for (const data of seen.values()) rrs.push({ name: owner, type, class: 'IN', ttl, data } as RR);
    rrsets.set(type, rrs);
  }
  return { owner, zone: zone.origin, rrsets, verdicts };
}

/** Two RRsets hold the same records (order-insensitive, TTL included). */
export function sameRRset(a: readonly RR[] | undefined, b: readonly RR[] | undefined): boolean {
  if (a === b) return true;
  if (!a || !b || a.length !== b.length) return false;
  if (a.length > 0 && (a[0] as RR).ttl !== (b[0] as RR).ttl) return false;
  const keys = new Set(a.map((r) => dataKey(r.data)));
  return b.every((r) => keys.has(dataKey(r.data)));
}

export type ZoneVerdict = { readonly accepted: true } | { readonly accepted: false; readonly reason: 'ZoneConflict'; readonly message: string };

/** Two DNSZone objects for the same zone: the oldest serves it, the other is refused. */
export function resolveZones(zones: Iterable<ZoneObject>): { active: Map<string, ZoneObject>; verdicts: Map<string, ZoneVerdict> } {
  const active = new Map<string, ZoneObject>();
  const verdicts = new Map<string, ZoneVerdict>();
  for (const z of [...zones].sort(byAge)) {
    const holder = active.get(z.origin);
    if (holder) {
      verdicts.set(z.meta.name, { accepted: false, reason: 'ZoneConflict', message: `zone ${z.origin} is already served by DNSZone ${holder.meta.name} (older)` });
    } else {
      active.set(z.origin, z);
      verdicts.set(z.meta.name, { accepted: true });
    }
  }
  return { active, verdicts };
}
