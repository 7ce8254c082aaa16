/**
 * What every agent must hold, computed straight from the API objects by the rules the README
 * states ("Records in the API", "What needs the whole picture"), written here a second time on
 * purpose: the controller's own Reconciler would mirror its bugs into the expectation. Only
 * the value parser (zone-file presentation format, src/dns) is shared, as the agents' answers
 * are compared in that same canonical form.
 *
 * Rules: the oldest DNSZone for a zone serves it; a record lies in the most specific served
 * zone containing its name; the zone's namespaceSelector (absent = every namespace) must
 * match its namespace's labels; per name and type, the namespace of the oldest record owns
 * the RRset and that namespace's records merge (values deduplicated, lowest TTL, the zone's
 * defaultTTL when a record has none); a name holds one CNAME, none at the apex, and a CNAME
 * and other data at one name: the older side stays; merging oldest first, a record whose new
 * values would take the RRset past 64,000 octets is refused whole. Age is creationTimestamp,
 * ties broken by namespace/name.
 */
import { canonicalData, recordKey } from '../../src/dns/rdata.js';
import { parseRdata } from '../../src/dns/presentation.js';
import { rdataCodec } from '../../src/dns/packet-codecs.js';
import type { RR, RecordType } from '../../src/dns/rr.js';

interface Meta {
  readonly name: string;
  readonly namespace?: string;
  readonly creationTimestamp?: string | Date;
  readonly labels?: Record<string, string>;
}
interface Expression {
  readonly key: string;
  readonly operator: string;
  readonly values?: readonly string[];
}
export interface ApiZone {
  readonly metadata: Meta;
  readonly spec: { readonly zone: string; readonly defaultTTL?: number; readonly namespaceSelector?: { readonly matchLabels?: Record<string, string>; readonly matchExpressions?: readonly Expression[] } };
}
export interface ApiRecord {
  readonly metadata: Meta;
  readonly spec: { readonly name: string; readonly type: string; readonly ttl?: number; readonly values: readonly string[] };
}
export interface ApiNamespace {
  readonly metadata: Meta;
}

const ZONE_DEFAULT_TTL = 30;

/**
 * The README's limit: an RRset's records in wire form, each owner a 2-octet compression
 * pointer, take at most 64,000 octets.
 */
const MAX_RRSET_OCTETS = 64_000;

/**
 * One record's octets in an answer: pointer (2) + type, class, TTL, RDLENGTH (10) + RDATA.
 * Names inside RDATA are counted uncompressed (an upper bound; the suites using this stay
 * far from the limit with such types, or use A/AAAA/TXT, which are exact).
 */
function answerOctets(type: string, data: unknown): number {
  if (type === 'A') return 16;
  if (type === 'AAAA') return 28;
  return 12 + rdataCodec(type).encode(data).length - 2;
}

function canon(name: string): string {
  return (name.endsWith('.') ? name.slice(0, -1) : name).toLowerCase();
}

function age(m: Meta): [number, string] {
  const t = m.creationTimestamp === undefined ? 0 : new Date(m.creationTimestamp).getTime();
  return [t, `${m.namespace ?? ''}/${m.name}`];
}

function older(a: Meta, b: Meta): boolean {
  const [ta, ka] = age(a);
  const [tb, kb] = age(b);
  return ta !== tb ? ta < tb : ka < kb;
}

function selects(sel: ApiZone['spec']['namespaceSelector'], labels: Record<string, string>): boolean {
  if (!sel) return true;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const inValues = has && (e.values ?? []).includes(labels[e.key] as string);
    const ok = e.operator === 'In' ? inValues : e.operator === 'NotIn' ? !inValues : e.operator === 'Exists' ? has : e.operator === 'DoesNotExist' ? !has : false;
    if (!ok) return false;
  }
  return true;
}

function rdata(type: string, text: string, origin: string): unknown {
  if (type !== 'TXT') return parseRdata(type as RecordType, text, origin);
  const bytes = Buffer.from(text, 'utf8');
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 255) parts.push(bytes.subarray(i, i + 255));
  return canonicalData('TXT', parts.length > 0 ? parts : [Buffer.alloc(0)]);
}

/** Per served zone (canonical origin), its records (SOA aside) as `recordKey ttl=N`, sorted. */
export function expectedFromObjects(zones: readonly ApiZone[], records: readonly ApiRecord[], namespaces: readonly ApiNamespace[]): Map<string, string[]> {
  const served = new Map<string, ApiZone>();
  for (const z of zones) {
    const origin = canon(z.spec.zone);
    const cur = served.get(origin);
    if (!cur || older(z.metadata, cur.metadata)) served.set(origin, z);
  }
  const labels = new Map(namespaces.map((n) => [n.metadata.name, n.metadata.labels ?? {}]));

  // Candidates by owner name: in a served zone, namespace allowed, every value parses.
  type Candidate = { rec: ApiRecord; origin: string; zone: ApiZone; data: unknown[] };
  const byName = new Map<string, Candidate[]>();
  for (const rec of records) {
    const owner = canon(rec.spec.name);
    let origin: string | undefined;
    for (const o of served.keys()) if ((owner === o || owner.endsWith(`.${o}`) || o === '') && (origin === undefined || o.length > origin.length)) origin = o;
    if (origin === undefined) continue;
    const zone = served.get(origin) as ApiZone;
    if (!selects(zone.spec.namespaceSelector, labels.get(rec.metadata.namespace ?? '') ?? {})) continue;
    let data: unknown[];
    try {
      data = rec.spec.values.map((v) => rdata(rec.spec.type, v, origin));
    } catch {
      continue;
    }
    const list = byName.get(owner) ?? [];
    list.push({ rec, origin, zone, data });
    byName.set(owner, list);
  }

  const out = new Map<string, string[]>([...served.keys()].map((o) => [o, []]));
  for (const [owner, cands] of byName) {
    const sorted = [...cands].sort((a, b) => (older(a.rec.metadata, b.rec.metadata) ? -1 : older(b.rec.metadata, a.rec.metadata) ? 1 : 0));
    const groups = new Map<string, Candidate[]>();
    for (const c of sorted) {
      const type = c.rec.spec.type;
      if (type === 'CNAME' && owner === c.origin) continue; // no CNAME at the apex
      const g = groups.get(type);
      if (!g) groups.set(type, [c]);
      else if (g[0]?.rec.metadata.namespace === c.rec.metadata.namespace && type !== 'CNAME') g.push(c);
    }
    const cname = groups.get('CNAME')?.[0];
    if (cname && groups.size > 1) {
      const others = [...groups].filter(([t]) => t !== 'CNAME').map(([, g]) => (g[0] as Candidate).rec.metadata);
      const oldestOther = others.reduce((a, b) => (older(b, a) ? b : a));
      if (older(cname.rec.metadata, oldestOther)) {
        for (const t of [...groups.keys()]) if (t !== 'CNAME') groups.delete(t);
      } else groups.delete('CNAME');
    }
    const list = out.get(sorted[0]?.origin as string) as string[];
    for (const [type, g] of groups) {
      // Oldest first; a record whose new values would take the RRset past the size limit is
      // refused whole (its TTL does not count either), and the older ones stay.
      const keys = new Set<string>();
      let octets = 0;
      let ttl = Number.POSITIVE_INFINITY;
      for (const c of g) {
        const fresh = new Map<string, number>();
        for (const d of c.data) {
          const k = recordKey({ name: owner, type, data: d } as RR);
          if (!keys.has(k)) fresh.set(k, answerOctets(type, d));
        }
        const add = [...fresh.values()].reduce((n, o) => n + o, 0);
        if (octets + add > MAX_RRSET_OCTETS) continue;
        octets += add;
        for (const k of fresh.keys()) keys.add(k);
        ttl = Math.min(ttl, c.rec.spec.ttl ?? c.zone.spec.defaultTTL ?? ZONE_DEFAULT_TTL);
      }
      for (const k of keys) list.push(`${k} ttl=${ttl}`);
    }
  }
  for (const l of out.values()) l.sort();
  return out;
}
