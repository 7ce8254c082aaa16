import { describe, expect, it } from 'vitest';
import { hashString, PMap } from './pmap.js';

/** Deterministic PRNG so a failure reproduces. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('PMap', () => {
  it('matches a Map under random sets and deletes, and old versions stay intact', () => {
    const rand = rng(7);
    let pm = PMap.empty<number>();
    const ref = new Map<string, number>();
    const history: Array<[PMap<number>, Map<string, number>]> = [];
    for (let i = 0; i < 20_000; i++) {
      const key = `k${Math.floor(rand() * 3000)}.example`;
      if (rand() < 0.35) {
        pm = pm.delete(key);
        ref.delete(key);
      } else {
        pm = pm.set(key, i);
        ref.set(key, i);
      }
      if (i % 2000 === 0) history.push([pm, new Map(ref)]);
    }
    expect(pm.size).toBe(ref.size);
    for (const [k, v] of ref) expect(pm.get(k)).toBe(v);
    expect(new Map(pm.entries())).toEqual(ref);
    for (const [old, snap] of history) {
      expect(old.size).toBe(snap.size);
      expect(new Map(old.entries())).toEqual(snap);
    }
  });

  it('builder mutates only its own copy', () => {
    const a = PMap.from([['x', 1], ['y', 2]]);
    const b = a.builder();
    for (let i = 0; i < 1000; i++) b.set(`n${i}`, i);
    b.delete('x');
    const c = b.freeze();
    expect(a.size).toBe(2);
    expect(a.get('x')).toBe(1);
    expect(a.get('n5')).toBeUndefined();
    expect(c.size).toBe(1001);
    expect(c.get('x')).toBeUndefined();
    expect(c.get('n999')).toBe(999);
    expect(() => b.set('z', 1)).toThrow(/after freeze/);
    // A later builder over c does not disturb c.
    const d = c.builder().set('n5', -1).freeze();
    expect(c.get('n5')).toBe(5);
    expect(d.get('n5')).toBe(-1);
  });

  it('handles real 32-bit hash collisions', () => {
    // Birthday search: among ~300k names two FNV-1a hashes almost surely coincide.
    const seen = new Map<number, string>();
    const pairs: Array<[string, string]> = [];
    const rand = rng(11);
    for (let i = 0; i < 400_000 && pairs.length < 3; i++) {
      const k = `${Math.floor(rand() * 2 ** 32).toString(36)}${Math.floor(rand() * 2 ** 20).toString(36)}.zone`;
      const h = hashString(k);
      const other = seen.get(h);
      if (other !== undefined) pairs.push([other, k]);
      else seen.set(h, k);
    }
    expect(pairs.length).toBeGreaterThan(0);
    let pm = PMap.from(Array.from({ length: 2000 }, (_, i) => [`fill${i}`, i] as const));
    for (const [a, b] of pairs) pm = pm.set(a, 1).set(b, 2);
    for (const [a, b] of pairs) {
      expect(pm.get(a)).toBe(1);
      expect(pm.get(b)).toBe(2);
    }
    const before = pm;
    for (const [a] of pairs) pm = pm.delete(a);
    for (const [a, b] of pairs) {
      expect(pm.get(a)).toBeUndefined();
      expect(pm.get(b)).toBe(2);
      expect(before.get(a)).toBe(1);
    }
    expect(pm.size).toBe(2000 + pairs.length);
  });

  it('set with the same value returns the same map', () => {
    const v = { a: 1 };
    const a = PMap.empty<object>().set('k', v);
    expect(a.set('k', v)).toBe(a);
    expect(a.delete('missing')).toBe(a);
  });

  it('values shaped as their own leaf read, replace and delete like any other', () => {
    class Self {
      constructor(
        readonly key: string,
        readonly n: number,
      ) {}
      get kind(): 0 {
        return 0;
      }
      get value(): this {
        return this;
      }
    }
    const b = PMap.empty<Self | { n: number }>().builder();
    for (let i = 0; i < 5000; i++) b.set(`k${i}`, i % 2 === 0 ? new Self(`k${i}`, i) : { n: i });
    // Shaped for another key: must be wrapped, not taken as the leaf of this one.
    b.set('odd', new Self('other', -1));
    const m = b.freeze();
    expect(m.size).toBe(5001);
    for (let i = 0; i < 5000; i++) expect(m.get(`k${i}`)?.n).toBe(i);
    expect(m.get('odd')?.n).toBe(-1);
    expect(m.get('other')).toBeUndefined();
    const m2 = m.set('k2', new Self('k2', 22)).delete('k4');
    expect([m2.get('k2')?.n, m2.get('k4'), m.get('k2')?.n, m.get('k4')?.n]).toEqual([22, undefined, 2, 4]);
    expect(new Map([...m2.entries()].map(([k, v]) => [k, v.n])).size).toBe(5000);
  });
});

