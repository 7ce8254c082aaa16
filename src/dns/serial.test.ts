import { describe, expect, it } from 'vitest';
import { nextSerial, serialAdd, serialCompare, serialGt, serialLt } from './serial.js';

const MAX = 0xffffffff;

describe('RFC 1982 serial arithmetic', () => {
  it('compares without wrap', () => {
    expect(serialCompare(1, 2)).toBe(-1);
    expect(serialCompare(2, 1)).toBe(1);
    expect(serialCompare(7, 7)).toBe(0);
    expect(serialGt(100, 99)).toBe(true);
    expect(serialLt(99, 100)).toBe(true);
  });

  it('compares across the wrap', () => {
    expect(serialGt(0, MAX)).toBe(true);
    expect(serialGt(5, MAX - 5)).toBe(true);
    expect(serialLt(MAX, 0)).toBe(true);
    expect(serialGt(MAX, 0)).toBe(false);
    // The largest forward step is 2^31 - 1.
    expect(serialGt(2 ** 31 - 1, 0)).toBe(true);
    expect(serialGt((MAX - 10 + 2 ** 31 - 1) >>> 0, MAX - 10)).toBe(true);
  });

  it('leaves pairs exactly 2^31 apart undefined', () => {
    expect(serialCompare(0, 2 ** 31)).toBeUndefined();
    expect(serialCompare(2 ** 31, 0)).toBeUndefined();
    expect(serialCompare(10, 10 + 2 ** 31)).toBeUndefined();
    expect(serialGt(0, 2 ** 31)).toBe(false);
    expect(serialLt(0, 2 ** 31)).toBe(false);
  });

  it('is antisymmetric on random pairs', () => {
    let s = 99;
    const r = (): number => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0);
    for (let i = 0; i < 10_000; i++) {
      const a = r();
      const b = r();
      const c = serialCompare(a, b);
      const d = serialCompare(b, a);
      if (c === undefined) expect(d).toBeUndefined();
      else expect(d).toBe(-c || 0);
    }
  });

  it('adds modulo 2^32 and refuses steps outside 0..2^31-1', () => {
    expect(serialAdd(MAX, 1)).toBe(0);
    expect(serialAdd(MAX - 1, 5)).toBe(3);
    expect(serialAdd(7, 0)).toBe(7);
    expect(() => serialAdd(1, 2 ** 31)).toThrow(RangeError);
    expect(() => serialAdd(1, -1)).toThrow(RangeError);
  });
});

describe('nextSerial', () => {
  it('jumps to the clock when it is ahead', () => {
    expect(nextSerial(5, 1_700_000_000)).toBe(1_700_000_000);
    expect(nextSerial(1_700_000_000, 1_700_000_000.9)).toBe(1_700_000_001);
  });

  it('never goes back when the clock does or a leader ran ahead', () => {
    expect(nextSerial(1_800_000_000, 1_700_000_000)).toBe(1_800_000_001);
    let s = 1_700_000_000;
    for (let i = 0; i < 100; i++) {
      const n = nextSerial(s, 1_700_000_000 - i);
      expect(serialGt(n, s)).toBe(true);
      s = n;
    }
  });

  it('wraps past 2^32 and still moves forward', () => {
    expect(nextSerial(MAX, 5)).toBe(5);
    expect(nextSerial(MAX, 0)).toBe(0);
    expect(serialGt(nextSerial(MAX, 0), MAX)).toBe(true);
    // The clock exactly 2^31 ahead is undefined under RFC 1982: take +1 instead.
    expect(nextSerial(10, 10 + 2 ** 31 + 1)).toBe(11);
  });
});
