/**
 * The records at one owner name. Most names hold one RRset (an A, a CNAME, ...), and a
 * native Map costs ~100 bytes of hash table even with one entry; at 100,000 names that is
 * the largest single part of a snapshot. A one-type name is held as `SingleTypeNode` (two
 * fields) behind the same read interface, so readers need not know which they got.
 */
import type { RR } from '../dns/rr.js';
import type { SelfLeaf } from './pmap.js';

/**
 * The records at one owner name, by type. Never mutated once in a snapshot. The subset of
 * ReadonlyMap the zone code uses, so a native Map is one too.
 */
export interface ZoneNode {
  readonly size: number;
  get(type: string): readonly RR[] | undefined;
  has(type: string): boolean;
  keys(): Iterable<string>;
  values(): Iterable<readonly RR[]>;
  [Symbol.iterator](): Iterator<[string, readonly RR[]]>;
}

export class SingleTypeNode implements ZoneNode {
  constructor(
    private readonly type: string,
    private readonly rrs: readonly RR[],
  ) {}

  get size(): number {
    return 1;
  }

  get(type: string): readonly RR[] | undefined {
    return type === this.type ? this.rrs : undefined;
  }

  has(type: string): boolean {
    return type === this.type;
  }

  keys(): Iterable<string> {
    return [this.type];
  }

  values(): Iterable<readonly RR[]> {
    return [this.rrs];
  }

  [Symbol.iterator](): Iterator<[string, readonly RR[]]> {
    return [[this.type, this.rrs] as [string, readonly RR[]]][Symbol.iterator]();
  }
}

/** The node to keep for `byType` (its lists frozen): a SingleTypeNode when it has one type. */
export function compactNode(byType: ReadonlyMap<string, RR[]>): ZoneNode {
  for (const list of byType.values()) Object.freeze(list);
  if (byType.size === 1) {
    for (const [type, list] of byType) return new SingleTypeNode(type, list);
  }
  return byType;
}

/**
 * A one-type name's index entry and node in one object (the entry shape of snapshot.ts:
 * `count` names at or below it, `node` its records): built zones hold one of these per
 * name instead of an entry object pointing at a node object.
 */
export class SingleTypeEntry extends SingleTypeNode {
  constructor(
    /** Writable only while buildSnapshot counts names; fixed once the snapshot exists. */
    public count: number,
    type: string,
    rrs: readonly RR[],
  ) {
    super(type, rrs);
  }

  get node(): ZoneNode {
    return this;
  }
}

/**
 * A name with a single record (most names in large zones: one A, one CNAME): entry, node
 * and record in one object. The record's fields are kept here rather than an RR object
 * (~40 bytes a name less), and the RRset array and RR are made on each read; reads happen
 * on answer-cache misses only, and what they make dies young.
 */
export class SingleRecordEntry implements ZoneNode, SelfLeaf {
  /** The owner name; also this object's key as its own index leaf (SelfLeaf). */
  readonly key: string;
  private readonly type: string;
  private readonly ttl: number;
  /** The rdata, or an A record's address as an int32 (a small integer costs no allocation; the string ~32 bytes). */
  private readonly data: RR['data'] | number;

  constructor(rr: RR) {
    this.key = rr.name;
    this.type = rr.type;
    this.ttl = rr.ttl;
    this.data = rr.type === 'A' ? packIPv4(rr.data as string) : rr.data;
  }

  /**
   * Names at or below this one: always itself only. A name with one record that has names
   * below it is indexed as a plain entry around this node instead, so no per-name count
   * field is kept for the common case.
   */
  get count(): number {
    return 1;
  }

  get node(): ZoneNode {
    return this;
  }

  /** SelfLeaf: the index stores this entry as its own leaf, no separate leaf object. */
  get kind(): 0 {
    return 0;
  }

  get value(): this {
    return this;
  }

  get size(): number {
    return 1;
  }

  private rrset(): readonly RR[] {
    const data = typeof this.data === 'number' ? unpackIPv4(this.data) : this.data;
    return [{ name: this.key, type: this.type, ttl: this.ttl, class: 'IN', data } as RR];
  }

  get(type: string): readonly RR[] | undefined {
    return type === this.type ? this.rrset() : undefined;
  }

  has(type: string): boolean {
    return type === this.type;
  }

  keys(): Iterable<string> {
    return [this.type];
  }

  values(): Iterable<readonly RR[]> {
    return [this.rrset()];
  }

  [Symbol.iterator](): Iterator<[string, readonly RR[]]> {
    return [[this.type, this.rrset()] as [string, readonly RR[]]][Symbol.iterator]();
  }
}

/** A canonical dotted quad as an int32, or the string itself when it is not one. */
export function packIPv4(s: string): number | string {
  const parts = s.split('.');
  if (parts.length !== 4) return s;
  let v = 0;
  for (const p of parts) {
    const n = Number(p);
    // Canonical form only, so that unpacking gives back the same string.
    if (!/^(0|[1-9]\d{0,2})$/.test(p) || n > 255) return s;
    v = (v << 8) | n;
  }
  return v | 0;
}

export function unpackIPv4(v: number): string {
  return `${(v >>> 24) & 255}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}
