/**
 * An immutable, indexed zone and its authoritative lookup (RFC 1034 §4.3.2, RFC 4592
 * wildcards, RFC 8020 empty non-terminals, RFC 2308 negative answers).
 *
 * The indexes are persistent maps, so a diff produces a new snapshot that shares all
 * untouched structure with the old one (see diff.ts).
 */
import { canonicalName, type RR } from '../dns/rr.js';
import { canonicalRR, rdataKey, type SoaRdata } from '../dns/rdata.js';
import type { LookupResult, ZoneSnapshot } from './types.js';
import { ZoneError } from './errors.js';
import { inZone, parentName, pathBelow } from './names.js';
import { PMap } from './pmap.js';
import { compactNode, SingleRecordEntry, SingleTypeEntry, type ZoneNode } from './node.js';

export type { ZoneNode } from './node.js';

/** CNAME chains longer than this are cut (BIND follows 16 steps; in-zone chains are short). */
const MAX_CHAIN = 16;
const EMPTY: readonly RR[] = Object.freeze([]);

/**
 * What the index holds per name: the records there (absent for an empty non-terminal) and
 * how many owner names lie at or below it. A name exists (RFC 8020) iff it has an entry.
 */
export interface NameEntry {
  readonly count: number;
  readonly node: ZoneNode | undefined;
}

export interface SnapshotParts {
  readonly origin: string;
  readonly soa: RR;
  /** name → entry; the apex node includes the SOA. */
  readonly names: PMap<NameEntry>;
  readonly size: number;
}

export class IndexedZone implements ZoneSnapshot {
  readonly origin: string;
  readonly serial: number;
  readonly soa: RR;
  readonly size: number;
  /**
   * @internal The only index. (A native Map beside it made reads one hash probe instead of
   * a trie walk, but cost ~35 bytes a name, and reads happen on answer-cache misses only.)
   */
  readonly names: PMap<NameEntry>;
  private readonly negativeSoa: readonly RR[];

  constructor(parts: SnapshotParts) {
    this.origin = parts.origin;
    this.soa = parts.soa;
    const soaData = parts.soa.data as SoaRdata;
    this.serial = soaData.serial >>> 0;
    this.size = parts.size;
    this.names = parts.names;
    this.negativeSoa = Object.freeze([{ ...parts.soa, ttl: Math.min(parts.soa.ttl, soaData.minimum) } as RR]);
  }

  *records(): Iterable<RR> {
    yield this.soa;
    for (const entry of this.names.values()) {
      if (entry.node === undefined) continue;
      for (const [type, rrs] of entry.node) {
        if (type === 'SOA') continue;
        yield* rrs;
      }
    }
  }

  /** The entry for canonical `name`: records and existence. */
  entry(name: string): NameEntry | undefined {
    return this.names.get(name);
  }

  /** The records at `name` (canonical) of `type`, or undefined. */
  rrset(name: string, type: string): readonly RR[] | undefined {
    return this.entry(name)?.node?.get(type);
  }

  lookup(qname: string, qtype: string): LookupResult {
    const asked = qname.endsWith('.') ? qname.slice(0, -1) : qname;
    const type = qtype.toUpperCase();
    let name = asked.toLowerCase();
    if (!inZone(name, this.origin)) {
      throw new ZoneError(this.origin, `${asked || '.'} is not in this zone`);
    }
    let owner = asked;
    let chain: RR[] | undefined;
    const seen = new Set<string>();
    for (;;) {
      const step = this.step(name, owner, type);
      if (step.kind !== 'cname') {
        if (chain === undefined) return step;
        return this.withChain(chain, step);
      }
      chain ??= [];
      chain.push(step.cname);
      seen.add(name);
      const target = canonicalName(step.cname.data as string);
      if (seen.has(target) || chain.length >= MAX_CHAIN || !inZone(target, this.origin)) {
        return { kind: 'answer', answer: chain, authority: EMPTY, additional: EMPTY };
      }
      name = target;
      owner = target;
    }
  }

  private withChain(chain: RR[], step: LookupResult): LookupResult {
    switch (step.kind) {
      case 'answer':
        return { kind: 'answer', answer: [...chain, ...step.answer], authority: step.authority, additional: step.additional };
      case 'nodata':
        return { kind: 'nodata', answer: chain, authority: step.authority };
      case 'nxdomain':
        return { kind: 'nxdomain', answer: chain, authority: step.authority };
      case 'referral':
        // The chain is authoritative data; the delegation it ends in goes beside it.
        return { kind: 'answer', answer: chain, authority: step.authority, additional: step.additional };
    }
  }

  /** One lookup step without CNAME following; `owner` is the name to put on synthesized records. */
  private step(name: string, owner: string, type: string): LookupResult | { kind: 'cname'; cname: RR } {
    // Walk down from the apex: stop at a delegation, or at the first name that does not exist.
    const path = pathBelow(name, this.origin);
    let encloser = this.origin;
    let entry: NameEntry | undefined = path.length === 0 ? this.entry(name) : undefined;
    for (const n of path) {
      entry = this.entry(n);
      if (entry === undefined) break;
      const ns = entry.node?.get('NS');
      // DS lives on the parent side of a cut (RFC 4035 §3.1.4.1): answered here, not referred.
      if (ns !== undefined && !(type === 'DS' && n === name)) return this.referral(n, ns);
      encloser = n;
    }
    let synth = false;
    if (entry === undefined) {
      entry = this.entry(encloser === '' ? '*' : `*.${encloser}`);
      if (entry === undefined) return { kind: 'nxdomain', answer: EMPTY, authority: this.negativeSoa };
      synth = true;
    }
    const node = entry.node;
    if (node === undefined) return this.nodata();
    const rename = (rrs: readonly RR[]): readonly RR[] => (synth ? rrs.map((r) => ({ ...r, name: owner }) as RR) : rrs);

    if (type === 'ANY') {
      const all: RR[] = [];
      for (const rrs of node.values()) all.push(...rename(rrs));
      // No additional data for ANY (as BIND): the answer is already as large as it gets.
      return { kind: 'answer', answer: all, authority: EMPTY, additional: EMPTY };
    }
    const rrs = node.get(type);
    if (rrs !== undefined) {
      const answer = rename(rrs);
      return { kind: 'answer', answer, authority: EMPTY, additional: this.additionalFor(answer) };
    }
    const cname = node.get('CNAME');
    if (cname !== undefined && cname[0] !== undefined) {
      return { kind: 'cname', cname: synth ? ({ ...cname[0], name: owner } as RR) : cname[0] };
    }
    return this.nodata();
  }

  private nodata(): LookupResult {
    return { kind: 'nodata', answer: EMPTY, authority: this.negativeSoa };
  }

  /**
   * A referral to the delegation at `cut`: its NS records, and glue for the name servers
   * at or below the cut only (in-domain glue, RFC 9471). Addresses of sibling names are
   * left out, as BIND leaves them out.
   */
  private referral(cut: string, ns: readonly RR[]): LookupResult {
    const inDomain = ns.filter((r) => inZone(r.data as string, cut));
    return { kind: 'referral', authority: ns, additional: inDomain.length === 0 ? EMPTY : this.additionalFor(inDomain) };
  }

  /**
   * The A and AAAA records for an additional-section target: its own, or synthesized from a
   * wildcard when the name does not exist (owner = the target). At or below a delegation
   * only glue of the exact name counts, and only when `glueOk` (NS targets).
   */
  private addressesOf(target: string, glueOk: boolean): RR[] | undefined {
    let entry: NameEntry | undefined = undefined;
    let encloser = this.origin;
    const path = pathBelow(target, this.origin);
    if (path.length === 0) entry = this.entry(target);
    for (const n of path) {
      entry = this.entry(n);
      if (entry === undefined) break;
      if (entry.node?.has('NS') === true) {
        return glueOk ? addresses(this.entry(target)?.node, undefined) : undefined;
      }
      encloser = n;
    }
    if (entry !== undefined) return addresses(entry.node, undefined);
    return addresses(this.entry(encloser === '' ? '*' : `*.${encloser}`)?.node, target);
  }

  /**
   * In-zone A/AAAA of the names MX, SRV and NS records point at, wildcards applied. Glue
   * (addresses at or below a delegation) is added for NS targets only; MX and SRV get
   * authoritative data only, as BIND does.
   */
  private additionalFor(rrs: readonly RR[]): readonly RR[] {
    let out: RR[] | undefined;
    let done: Set<string> | undefined;
    for (const rr of rrs) {
      let target: string;
      if (rr.type === 'NS') target = rr.data as string;
      else if (rr.type === 'MX') target = (rr.data as { exchange: string }).exchange;
      else if (rr.type === 'SRV') target = (rr.data as { target: string }).target;
      else continue;
      if (!inZone(target, this.origin)) continue;
      done ??= new Set();
      if (done.has(target)) continue;
      done.add(target);
      const found = this.addressesOf(target, rr.type === 'NS');
      if (found === undefined) continue;
      out ??= [];
      out.push(...found);
    }
    return out ?? EMPTY;
  }
}

/** A and AAAA of a node, renamed to `owner` when synthesized from a wildcard. */
function addresses(node: ZoneNode | undefined, owner: string | undefined): RR[] | undefined {
  if (node === undefined) return undefined;
  const a = node.get('A');
  const aaaa = node.get('AAAA');
  if (a === undefined && aaaa === undefined) return undefined;
  const all = [...(a ?? []), ...(aaaa ?? [])];
  return owner === undefined ? all : all.map((r) => ({ ...r, name: owner }) as RR);
}

/** Checks one owner's records against the zone rules that concern a single name. */
export function checkNode(origin: string, name: string, node: ZoneNode): void {
  const cname = node.get('CNAME');
  if (cname === undefined) return;
  if (cname.length > 1) throw new ZoneError(origin, `${name}: more than one CNAME`);
  if (node.size > 1) {
    const others = [...node.keys()].filter((t) => t !== 'CNAME').join(', ');
    throw new ZoneError(origin, `${name}: CNAME beside other data (${others})`);
  }
}

/** What addExistence needs of the index being built. */
export interface EntryWriter {
  get(name: string): NameEntry | undefined;
  set(name: string, entry: NameEntry): unknown;
  delete(name: string): unknown;
}

/**
 * Counts one owner name in (delta 1) or out of (delta -1) the entries of it and every
 * ancestor up to the apex, creating and dropping empty non-terminal entries as needed.
 */
export function addExistence(names: EntryWriter, name: string, origin: string, delta: 1 | -1): void {
  let n: string | undefined = name;
  while (n !== undefined) {
    const e = names.get(n);
    const count = (e?.count ?? 0) + delta;
    if (count <= 0) names.delete(n);
    else names.set(n, { count, node: e?.node });
    if (n === origin) break;
    n = parentName(n);
  }
}

/** A name with more than one record while a zone is built: the one list of a one-type name, or lists by type. */
type Draft = RR[] | Map<string, RR[]>;

/** An index entry whose count buildSnapshot may still raise. */
type CountingEntry = { count: number; readonly node: ZoneNode | undefined };

/**
 * Builds a snapshot from records. Records are canonicalized; exact duplicates (same owner,
 * type and rdata) are dropped, the first one's TTL kept, as BIND does.
 *
 * Records are consumed one at a time (pass a generator to avoid holding them all) and go
 * straight into the index in their final form: a name's first record becomes its
 * SingleRecordEntry at once, and only names that get a second record are drafted on the
 * side. Names are then counted in place. Nothing proportional to the zone is built only to
 * be thrown away, which keeps the load's transient peak, which V8 keeps as heap, small.
 * Duplicates are looked for within their RRset only, so a zone of one-record RRsets
 * encodes no rdata keys at all.
 */
export function buildSnapshot(origin: string, records: Iterable<RR>): IndexedZone {
  const zone = canonicalName(origin);
  const names = PMap.empty<NameEntry>().builder();
  const multi = new Map<string, Draft>();
  // rdata keys of the RRsets that hold more than one record, made on first need.
  const keysOf = new Map<RR[], Set<string>>();
  const isDuplicate = (list: RR[], rr: RR): boolean => {
    let keys = keysOf.get(list);
    if (keys === undefined) {
      keys = new Set(list.map((r) => rdataKey(r)));
      keysOf.set(list, keys);
    }
    const key = rdataKey(rr);
    if (keys.has(key)) return true;
    keys.add(key);
    return false;
  };
  const owners: string[] = [];
  let soa: RR | undefined;
  let size = 0;
  for (const raw of records) {
    if (raw.class !== undefined && raw.class !== 'IN') {
      throw new ZoneError(zone, `${raw.name} ${raw.type}: class ${raw.class} (only IN)`);
    }
    const rr = canonicalRR(raw);
    if (!inZone(rr.name, zone)) throw new ZoneError(zone, `${rr.name || '.'} ${rr.type} is outside the zone`);
    if (rr.type === 'SOA') {
      if (rr.name !== zone) throw new ZoneError(zone, `SOA at ${rr.name}, not at the apex`);
      if (soa !== undefined) throw new ZoneError(zone, 'more than one SOA');
      soa = rr;
    }
    const draft = multi.get(rr.name);
    if (draft === undefined) {
      const single = names.get(rr.name);
      if (single === undefined) {
        names.set(rr.name, new SingleRecordEntry(rr));
        owners.push(rr.name);
      } else {
        // The name's second record: from now on it is drafted beside the index.
        const first = (single.node?.values()[Symbol.iterator]().next().value as readonly RR[])[0] as RR;
        if (first.type === rr.type) {
          if (rdataKey(first) === rdataKey(rr)) continue;
          multi.set(rr.name, [first, rr]);
        } else {
          multi.set(rr.name, new Map([[first.type, [first]], [rr.type, [rr]]]));
        }
      }
    } else if (Array.isArray(draft)) {
      const first = draft[0] as RR;
      if (first.type === rr.type) {
        if (isDuplicate(draft, rr)) continue;
        draft.push(rr);
      } else {
        multi.set(rr.name, new Map([[first.type, draft], [rr.type, [rr]]]));
      }
    } else {
      const list = draft.get(rr.type);
      if (list === undefined) draft.set(rr.type, [rr]);
      else if (isDuplicate(list, rr)) continue;
      else list.push(rr);
    }
    size++;
  }
  keysOf.clear();
  if (soa === undefined) throw new ZoneError(zone, 'no SOA at the apex');
  for (const [name, draft] of multi) {
    let entry: CountingEntry;
    if (Array.isArray(draft)) {
      entry = new SingleTypeEntry(1, (draft[0] as RR).type, Object.freeze(draft));
    } else {
      entry = { count: 1, node: compactNode(draft) };
    }
    checkNode(zone, name, entry.node as ZoneNode);
    names.set(name, entry);
  }
  multi.clear();
  // Every entry so far counts its own name. Each owner also counts at every ancestor up to
  // the apex; ancestors without records of their own (empty non-terminals) get an entry
  // here, and a one-record ancestor (count fixed at 1) is wrapped in a counting entry.
  for (const name of owners) {
    let n = name === zone ? undefined : parentName(name);
    while (n !== undefined) {
      const e = names.get(n);
      if (e === undefined) names.set(n, { count: 1, node: undefined });
      else if (e instanceof SingleRecordEntry) names.set(n, { count: 2, node: e });
      else (e as CountingEntry).count++;
      if (n === zone) break;
      n = parentName(n);
    }
  }
  return new IndexedZone({ origin: zone, soa, names: names.freeze(), size });
}
