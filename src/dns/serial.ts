/**
 * RFC 1982 serial number arithmetic (SERIAL_BITS = 32). Zone serials wrap; comparing them
 * as plain integers would make a secondary ignore a zone whose serial wrapped past 2^32.
 */

const HALF = 2 ** 31;
const MOD = 2 ** 32;

/**
 * -1, 0 or 1 as `a` is less than, equal to or greater than `b`; undefined when the two are
 * exactly 2^31 apart, where RFC 1982 §3.2 leaves the order undefined.
 */
export function serialCompare(a: number, b: number): -1 | 0 | 1 | undefined {
  const i1 = a >>> 0;
  const i2 = b >>> 0;
  if (i1 === i2) return 0;
  const d = (i2 - i1 + MOD) % MOD;
  if (d === HALF) return undefined;
  return d < HALF ? -1 : 1;
}

/** a > b in RFC 1982 terms (false when undefined). */
export function serialGt(a: number, b: number): boolean {
  return serialCompare(a, b) === 1;
}

/** a < b in RFC 1982 terms (false when undefined). */
export function serialLt(a: number, b: number): boolean {
  return serialCompare(a, b) === -1;
}

/** s + n mod 2^32; RFC 1982 §3.1 allows only 0 ≤ n ≤ 2^31 - 1. */
export function serialAdd(s: number, n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > HALF - 1) throw new RangeError(`serial increment ${n} outside 0..2^31-1`);
  return ((s >>> 0) + n) % MOD;
}

/**
 * The serial after `current`: the unix time when that is ahead of current (so serials read
 * as time stamps), else current + 1 — a serial never goes back, even when the clock does or
 * a previous leader ran ahead.
 */
export function nextSerial(current: number, nowSeconds: number): number {
  const bumped = serialAdd(current, 1);
  const stamp = Math.floor(nowSeconds) % MOD;
  return serialGt(stamp, bumped) ? stamp : bumped;
}
