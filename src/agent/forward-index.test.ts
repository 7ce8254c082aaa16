import { describe, expect, it } from 'vitest';
import { hashKey, indexInsert, indexRemove, indexSlots, SLOT_WORDS } from './forward-index.js';

/** Offsets reachable by probing from `hash` (what ForwardCache.find walks). */
function probe(index: Int32Array, mask: number, hash: number): number[] {
  const out: number[] = [];
  for (let i = hash & mask; index[i * SLOT_WORDS] !== 0; i = (i + 1) & mask) if (index[i * SLOT_WORDS] === hash) out.push(index[i * SLOT_WORDS + 1] as number);
  return out;
}

describe('forward-index', () => {
  it('sizes to a power of two with a load factor of at most 0.8', () => {
    expect(indexSlots(1)).toBe(8);
    expect(indexSlots(100)).toBe(128);
    expect(indexSlots(103)).toBe(256);
  });

  it('hashes to a non-zero value, the same for the same key', () => {
    expect(hashKey('a.example.\u0000\u0001')).toBe(hashKey('a.example.\u0000\u0001'));
    expect(hashKey('')).not.toBe(0);
  });

  it('keeps every probe chain whole when a slot in the middle is removed (backward shift)', () => {
    const mask = 7;
    const index = new Int32Array(8 * SLOT_WORDS);
    // Three colliding hashes (all land in slot 1) and one that lands in slot 2.
    indexInsert(index, mask, 9, 100, 1);
    indexInsert(index, mask, 17, 200, 2);
    indexInsert(index, mask, 25, 300, 3);
    indexInsert(index, mask, 2, 400, 4);
    expect(probe(index, mask, 25)).toEqual([300]);
    expect(probe(index, mask, 2)).toEqual([400]);
    indexRemove(index, mask, 17, 200, 2);
    expect(probe(index, mask, 17)).toEqual([]);
    expect(probe(index, mask, 9)).toEqual([100]);
    expect(probe(index, mask, 25)).toEqual([300]);
    expect(probe(index, mask, 2)).toEqual([400]);
    // A slot that is not there (stale stamp) changes nothing.
    indexRemove(index, mask, 9, 100, 99);
    expect(probe(index, mask, 9)).toEqual([100]);
    for (const [h, off, st] of [[9, 100, 1], [25, 300, 3], [2, 400, 4]] as const) indexRemove(index, mask, h, off, st);
    expect(Array.from({ length: 8 }, (_, i) => index[i * SLOT_WORDS])).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  });
});
