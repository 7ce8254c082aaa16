import { describe, expect, it } from 'vitest';
import { readWireName, skipWireName, WireNameError } from './wire-names.js';

/** 12 header bytes, then `Example.COM.` at 12, then `www` + pointer to 12 at 25. */
function message(): Uint8Array {
  const header = new Array<number>(12).fill(0);
  const example = [7, ...Buffer.from('Example'), 3, ...Buffer.from('COM'), 0];
  const www = [3, ...Buffer.from('www'), 0xc0, 12];
  return Uint8Array.from([...header, ...example, ...www]);
}

describe('wire names', () => {
  it('reads names lower-case, following pointers, with the end where the name sits', () => {
    const msg = message();
    expect(readWireName(msg, 12)).toEqual({ name: 'example.com', end: 25 });
    expect(readWireName(msg, 25)).toEqual({ name: 'www.example.com', end: 31 });
    expect(readWireName(msg, 29)).toEqual({ name: 'example.com', end: 31 });
    expect(readWireName(Uint8Array.from([0]), 0)).toEqual({ name: '', end: 1 });
    expect(skipWireName(msg, 12)).toBe(25);
    expect(skipWireName(msg, 25)).toBe(31);
  });

  it('reads from a view into a larger buffer at the right place', () => {
    const big = Buffer.concat([Buffer.from([9, 9, 9]), Buffer.from(message())]);
    expect(readWireName(big.subarray(3), 25).name).toBe('www.example.com');
  });

  const bad: [string, number[], number, RegExp][] = [
    ['a pointer to itself', [0xc0, 0], 0, /pointer loop/],
    ['two pointers to each other', [0xc0, 2, 0xc0, 0], 0, /pointer loop/],
    ['a pointer missing its second byte', [3, 97, 98, 99, 0xc0], 0, /truncated pointer/],
    ['a label past the end', [5, 97, 98], 0, /label runs past the end/],
    ['no terminating zero', [1, 97], 0, /runs past the end/],
    ['reserved label type 0x40', [0x41, 97], 0, /bad label type/],
    ['reserved label type 0x80', [0x81, 97], 0, /bad label type/],
  ];
  for (const [what, bytes, at, reason] of bad) {
    it(`refuses ${what}`, () => {
      expect(() => readWireName(Uint8Array.from(bytes), at)).toThrow(WireNameError);
      expect(() => readWireName(Uint8Array.from(bytes), at)).toThrow(reason);
    });
  }

  it('refuses a name of more labels than 255 octets can hold, reading or skipping', () => {
    const labels = Uint8Array.from([...new Array<number>(200).fill(0).flatMap(() => [1, 97]), 0]);
    expect(() => readWireName(labels, 0)).toThrow(/name too long/);
    expect(() => skipWireName(labels, 0)).toThrow(/name too long/);
  });

  it('skips without reading, but still refuses what it walks over', () => {
    expect(() => skipWireName(Uint8Array.from([0x81, 0]), 0)).toThrow(/bad label type/);
    expect(() => skipWireName(Uint8Array.from([3, 97]), 0)).toThrow(/runs past the end/);
    expect(() => skipWireName(Uint8Array.from([0xc0]), 0)).toThrow(/truncated pointer/);
  });
});
