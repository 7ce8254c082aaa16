import { describe, expect, it } from 'vitest';
import { RateWindow } from './rate-limit.js';

describe('RateWindow', () => {
  it('counts each client apart within one second and starts again the next', () => {
    const w = new RateWindow({ perSecond: 2, slip: 2, maxClients: 10 });
    expect([1, 2, 3, 4].map(() => w.over('a', 5_000))).toEqual([0, 0, 1, 2]);
    expect(w.over('b', 5_999)).toBe(0);
    expect(w.over('a', 6_000)).toBe(0);
  });

  it('does not limit clients past its table size (memory stays bounded)', () => {
    const w = new RateWindow({ perSecond: 1, slip: 2, maxClients: 2 });
    w.over('a', 0);
    w.over('b', 0);
    expect([1, 2, 3].map(() => w.over('c', 0))).toEqual([0, 0, 0]);
    expect(w.over('a', 0)).toBe(1);
  });
});
