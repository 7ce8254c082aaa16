import { describe, expect, it } from 'vitest';
import { RetryTimer } from './rtt.js';

describe('RetryTimer', () => {
  it('starts at the configured first retry and doubles up to the cap', () => {
    const r = new RetryTimer(200, 5000);
    expect(r.delay(0)).toBe(200);
    expect(r.delay(1)).toBe(400);
    expect(r.delay(10)).toBe(5000);
  });

  it('waits longer once round trips are measured longer than the first retry', () => {
    const r = new RetryTimer(200, 5000);
    for (let i = 0; i < 20; i++) r.sample(300 + (i % 2) * 200);
    // srtt ≈ 400, rttvar ≈ 100: about 800 ms, well above 200.
    expect(r.delay(0)).toBeGreaterThan(600);
    expect(r.delay(0)).toBeLessThan(1000);
    expect(r.smoothed).toBeGreaterThan(350);
  });

  it('never goes below the first retry for fast round trips, and ignores nonsense', () => {
    const r = new RetryTimer(200, 5000);
    r.sample(Number.NaN);
    r.sample(-1);
    expect(r.smoothed).toBeUndefined();
    for (let i = 0; i < 10; i++) r.sample(1);
    expect(r.delay(0)).toBe(200);
  });
});
