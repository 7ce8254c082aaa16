/**
 * A persistent (immutable, structure-sharing) string-keyed map: a hash array mapped trie.
 * It exists so that applying a one-record diff to a 100,000-record zone copies a handful of
 * 32-slot nodes instead of the whole index, while every older snapshot stays valid.
 *
 * Batches use a transient (`PMap.builder`): nodes created by the builder carry its edit
 * token and are mutated in place until `freeze()`, so building a zone of n records costs
 * O(n) allocations rather than O(n log n) copies.
 */

const BITS = 5;
const WIDTH = 1 << BITS;
const MASK = WIDTH - 1;
const MAX_SHIFT = 30;

/** Identity object: nodes whose `edit` is the builder's token may be changed in place. */
type Edit = { readonly id: symbol } | null;

/**
 * A leaf keeps no hash: at 100,000 keys a stored hash costs ~2.4 MB (a field, and a heap
 * number for every hash above 2^31), and it is only needed when a leaf is split, which is
 * rare and recomputes it from the key.
 */
interface Leaf<V> {
  readonly kind: 0;
  readonly key: string;
  readonly value: V;
}

/**
 * The leaf for `key` → `value`. A value that already has the leaf shape for this key
 * (kind 0, its key, `value` itself: see SelfLeaf) is its own leaf, which saves a 48-byte
 * object per key: the zone's one-record names are such values.
 */
function leafOf<V>(key: string, value: V): Leaf<V> {
  if (typeof value === 'object' && value !== null) {
    const v = value as Partial<Leaf<unknown>>;
    if (v.kind === 0 && v.key === key && v.value === value) return value as unknown as Leaf<V>;
  }
  return { kind: 0, key, value };
}

interface Branch<V> {
  readonly kind: 1;
  edit: Edit;
  bitmap: number;
  children: Array<Entry<V>>;
}

interface Collision<V> {
  readonly kind: 2;
  edit: Edit;
  readonly hash: number;
  leaves: Array<Leaf<V>>;
}

type Entry<V> = Leaf<V> | Branch<V> | Collision<V>;

/**
 * What a value implements to be stored as its own leaf (see leafOf): `kind` 0, the key it
 * is stored under, and `value` returning itself. Getters cost no per-object memory.
 */
export interface SelfLeaf {
  readonly kind: 0;
  readonly key: string;
  readonly value: SelfLeaf;
}

/** FNV-1a over UTF-16 code units; names are short so this is cheap and well spread. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function popcount(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

function frag(hash: number, shift: number): number {
  return (hash >>> shift) & MASK;
}

function lookup<V>(root: Branch<V>, hash: number, key: string): V | undefined {
  let node: Entry<V> = root;
  let shift = 0;
  for (;;) {
    if (node.kind === 1) {
      const bit = 1 << frag(hash, shift);
      if ((node.bitmap & bit) === 0) return undefined;
      const child: Entry<V> | undefined = node.children[popcount(node.bitmap & (bit - 1))];
      if (child === undefined) return undefined;
      node = child;
      shift += BITS;
    } else if (node.kind === 0) {
      return node.key === key ? node.value : undefined;
    } else {
      if (node.hash !== hash) return undefined;
      for (const l of node.leaves) if (l.key === key) return l.value;
      return undefined;
    }
  }
}

/** Result slot for the recursive update: whether the key count changed. */
interface SizeDelta {
  delta: number;
}

function mergeLeaves<V>(edit: Edit, shift: number, a: Leaf<V>, aHash: number, b: Leaf<V>, bHash: number): Entry<V> {
  if (shift > MAX_SHIFT || aHash === bHash) {
    return { kind: 2, edit, hash: aHash, leaves: [a, b] };
  }
  const fa = frag(aHash, shift);
  const fb = frag(bHash, shift);
  if (fa === fb) {
    return { kind: 1, edit, bitmap: 1 << fa, children: [mergeLeaves(edit, shift + BITS, a, aHash, b, bHash)] };
  }
  return {
    kind: 1,
    edit,
    bitmap: (1 << fa) | (1 << fb),
    children: fa < fb ? [a, b] : [b, a],
  };
}

/**
 * Sets (value !== undefined) or removes (value === undefined) `key` below `node`.
 * Returns the replacement entry (undefined when the subtree became empty); returns `node`
 * itself when nothing changed, so callers can skip copying.
 */
function update<V>(
  edit: Edit,
  node: Entry<V>,
  shift: number,
  hash: number,
  key: string,
  value: V | undefined,
  out: SizeDelta,
): Entry<V> | undefined {
  if (node.kind === 0) {
    if (node.key === key) {
      if (value === undefined) {
        out.delta = -1;
        return undefined;
      }
      if (node.value === value) return node;
      return leafOf(key, value);
    }
    if (value === undefined) return node;
    out.delta = 1;
    return mergeLeaves(edit, shift, node, hashString(node.key), leafOf(key, value), hash);
  }
  if (node.kind === 2) {
    if (node.hash !== hash) {
      if (value === undefined) return node;
      out.delta = 1;
      // Wrap the collision node in a branch at this depth and retry there.
      const branch: Branch<V> = { kind: 1, edit, bitmap: 1 << frag(node.hash, shift), children: [node] };
      return update(edit, branch, shift, hash, key, value, out);
    }
    const idx = node.leaves.findIndex((l) => l.key === key);
    if (idx < 0) {
      if (value === undefined) return node;
      out.delta = 1;
      const leaves = [...node.leaves, leafOf(key, value)];
      return { kind: 2, edit, hash, leaves };
    }
    if (value === undefined) {
      out.delta = -1;
      const leaves = node.leaves.filter((_, i) => i !== idx);
      const only = leaves[0];
      if (leaves.length === 1 && only !== undefined) return only;
      return { kind: 2, edit, hash, leaves };
    }
    const leaves = node.leaves.slice();
    leaves[idx] = leafOf(key, value);
    return { kind: 2, edit, hash, leaves };
  }

  const bit = 1 << frag(hash, shift);
  const idx = popcount(node.bitmap & (bit - 1));
  const present = (node.bitmap & bit) !== 0;
  if (!present) {
    if (value === undefined) return node;
    out.delta = 1;
    const leaf = leafOf(key, value);
    if (edit !== null && node.edit === edit) {
      node.children.splice(idx, 0, leaf);
      node.bitmap |= bit;
      return node;
    }
    const children = node.children.slice();
    children.splice(idx, 0, leaf);
    return { kind: 1, edit, bitmap: node.bitmap | bit, children };
  }
  const child = node.children[idx] as Entry<V>;
  const next = update(edit, child, shift + BITS, hash, key, value, out);
  if (next === child) return node;
  if (next === undefined) {
    const bitmap = node.bitmap & ~bit;
    if (bitmap === 0 && shift > 0) return undefined;
    // A branch left holding one leaf collapses into it so lookups stay short.
    if (shift > 0 && popcount(bitmap) === 1) {
      const other = node.children[idx === 0 ? 1 : 0] as Entry<V>;
      if (other.kind !== 1) return other;
    }
    if (edit !== null && node.edit === edit) {
      node.children.splice(idx, 1);
      node.bitmap = bitmap;
      return node;
    }
    const children = node.children.slice();
    children.splice(idx, 1);
    return { kind: 1, edit, bitmap, children };
  }
  if (edit !== null && node.edit === edit) {
    node.children[idx] = next;
    return node;
  }
  const children = node.children.slice();
  children[idx] = next;
  return { kind: 1, edit, bitmap: node.bitmap, children };
}

function* walk<V>(node: Entry<V>): Generator<[string, V]> {
  if (node.kind === 0) {
    yield [node.key, node.value];
  } else if (node.kind === 2) {
    for (const l of node.leaves) yield [l.key, l.value];
  } else {
    for (const c of node.children) yield* walk(c);
  }
}

/**
 * Gives the branches this batch built or changed children arrays of their exact length.
 * Arrays grown by splice keep spare capacity (a built 100,000-key map held ~90 bytes of it
 * per branch, ~2.8 MB), and frozen nodes never grow again. Only nodes owned by `edit` are
 * visited: any other subtree was not touched by the batch.
 */
function trim<V>(node: Branch<V>, edit: Edit): void {
  node.children = node.children.slice();
  for (const c of node.children) if (c.kind === 1 && c.edit === edit) trim(c, edit);
}

function emptyRoot<V>(edit: Edit): Branch<V> {
  return { kind: 1, edit, bitmap: 0, children: [] };
}

export class PMap<V> {
  private static readonly EMPTY = new PMap<never>(emptyRoot<never>(null), 0);

  private constructor(
    private readonly root: Branch<V>,
    readonly size: number,
  ) {}

  static empty<V>(): PMap<V> {
    return PMap.EMPTY as PMap<V>;
  }

  static from<V>(entries: Iterable<readonly [string, V]>): PMap<V> {
    const b = PMap.empty<V>().builder();
    for (const [k, v] of entries) b.set(k, v);
    return b.freeze();
  }

  get(key: string): V | undefined {
    return lookup(this.root, hashString(key), key);
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  set(key: string, value: V): PMap<V> {
    return this.change(key, value);
  }

  delete(key: string): PMap<V> {
    return this.change(key, undefined);
  }

  private change(key: string, value: V | undefined): PMap<V> {
    const out: SizeDelta = { delta: 0 };
    const next = update(null, this.root, 0, hashString(key), key, value, out);
    if (next === this.root) return this;
    return new PMap(next as Branch<V>, this.size + out.delta);
  }

  /** A transient copy for a batch of changes; this map is not affected. */
  builder(): PMapBuilder<V> {
    return new PMapBuilder(this.root, this.size);
  }

  entries(): IterableIterator<[string, V]> {
    return walk(this.root);
  }

  *values(): IterableIterator<V> {
    for (const [, v] of walk(this.root)) yield v;
  }

  /** @internal used by the builder */
  static make<V>(root: Branch<V>, size: number): PMap<V> {
    return size === 0 ? PMap.empty<V>() : new PMap(root, size);
  }
}

export class PMapBuilder<V> {
  private edit: Edit = { id: Symbol('pmap-edit') };

  constructor(
    private root: Branch<V>,
    private count: number,
  ) {}

  get size(): number {
    return this.count;
  }

  get(key: string): V | undefined {
    return lookup(this.root, hashString(key), key);
  }

  set(key: string, value: V): this {
    return this.change(key, value);
  }

  delete(key: string): this {
    return this.change(key, undefined);
  }

  private change(key: string, value: V | undefined): this {
    if (this.edit === null) throw new Error('PMapBuilder used after freeze()');
    const out: SizeDelta = { delta: 0 };
    const root = this.root.edit === this.edit ? this.root : { ...this.root, edit: this.edit, children: this.root.children.slice() };
    const next = update(this.edit, root, 0, hashString(key), key, value, out);
    this.root = (next ?? emptyRoot<V>(this.edit)) as Branch<V>;
    this.count += out.delta;
    return this;
  }

  /** Ends the batch: the nodes become immutable and the builder unusable. */
  freeze(): PMap<V> {
    if (this.edit !== null) trim(this.root, this.edit);
    this.edit = null;
    return PMap.make(this.root, this.count);
  }
}
