/**
 * The forwarding cache's index (forward-cache.ts): open addressing in an Int32Array of
 * shared memory, linear probing, backward-shift deletion. A slot is three words: the key's
 * hash (never 0; 0 marks an empty slot), the entry's offset in the ring, the entry's stamp.
 * Callers hold the cache's lock for insert and remove; lookups probe the slots themselves
 * (forward-cache.ts find()), checking each candidate's stamp and key.
 */

export const SLOT_WORDS = 3;

/** FNV-1a over the key's (latin1) char codes; never 0. */
export function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h === 0 ? 1 : h;
}

/** A power of two at least 1.25 × the entries: a load factor of at most 0.8 when full. */
export function indexSlots(maxEntries: number): number {
  let n = 8;
  while (n < maxEntries * 1.25) n *= 2;
  return n;
}

/** Puts (hash, off, stamp) in the first free slot of its probe chain. `mask`: slots - 1. */
export function indexInsert(index: Int32Array, mask: number, hash: number, off: number, stamp: number): void {
  let i = hash & mask;
  while (index[i * SLOT_WORDS] !== 0) i = (i + 1) & mask;
  const s = i * SLOT_WORDS;
  index[s + 1] = off;
  index[s + 2] = stamp;
  Atomics.store(index, s, hash);
}

/**
 * Takes the slot of (hash, off, stamp) out; backward-shift deletion keeps every probe chain
 * unbroken without tombstones. Nothing happens when the slot is not there.
 */
export function indexRemove(index: Int32Array, mask: number, hash: number, off: number, stamp: number): void {
  let i = hash & mask;
  for (let n = 0; n <= mask; n++, i = (i + 1) & mask) {
    const s = i * SLOT_WORDS;
    if (index[s] === 0) return;
    if (index[s + 1] === off && index[s + 2] === stamp) break;
  }
  for (;;) {
    let j = i;
    let k;
    do {
      j = (j + 1) & mask;
      if (index[j * SLOT_WORDS] === 0) {
        Atomics.store(index, i * SLOT_WORDS, 0);
        return;
      }
      k = (index[j * SLOT_WORDS] as number) & mask;
    } while (i <= j ? i < k && k <= j : i < k || k <= j);
    const si = i * SLOT_WORDS;
    const sj = j * SLOT_WORDS;
    index[si + 1] = index[sj + 1] as number;
    index[si + 2] = index[sj + 2] as number;
    Atomics.store(index, si, index[sj] as number);
    i = j;
  }
}
