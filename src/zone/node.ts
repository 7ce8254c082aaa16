/**
 * The records at one owner name. Most names hold one RRset (an A, a CNAME, ...), and a
 * native Map costs ~100 bytes of hash table even with one entry; at 100,000 names that is
 * the largest single part of a snapshot. A one-type name is held as `SingleTypeNode` (two
 * fields) behind the same read interface, so readers need not know which they got.
 */
import type { RR } from '../dns/rr.js';

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
    readonly count: number,
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
 * and RRset in one two-field object. The RRset array is made on each read instead of kept
 * (~56 bytes a name); reads happen on answer-cache misses only, and such an array dies
 * young.
 */
export class SingleRecordEntry implements ZoneNode {
  constructor(
    readonly count: number,
    private readonly rr: RR,
  ) {}

  get node(): ZoneNode {
    return this;
  }

  get size(): number {
    return 1;
  }

  get(type: string): readonly RR[] | undefined {
    return type === this.rr.type ? [this.rr] : undefined;
  }

  has(type: string): boolean {
    return type === this.rr.type;
  }

  keys(): Iterable<string> {
    return [this.rr.type];
  }

  values(): Iterable<readonly RR[]> {
    return [[this.rr]];
  }

  [Symbol.iterator](): Iterator<[string, readonly RR[]]> {
    return [[this.rr.type, [this.rr]] as [string, readonly RR[]]][Symbol.iterator]();
  }
}
