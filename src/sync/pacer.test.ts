import { describe, expect, it } from 'vitest';
import { FanoutPacer } from './pacer.js';

describe('FanoutPacer', () => {
  it('lets a change after a quiet spell go at once', () => {
    const p = new FanoutPacer();
    expect(p.delay(0, 0)).toBe(0);
    p.published(1000, 50);
    // 100 ms later, the last serial cost 2 ms of CPU: its window (4 ms) is long past.
    expect(p.delay(1100, 52)).toBe(0);
  });

  it('keeps serials of a burst at least minGapMs apart', () => {
    const p = new FanoutPacer({ minGapMs: 5 });
    p.published(1000, 0);
    expect(p.delay(1001, 0)).toBe(4);
  });

  it('holds the next serial back in proportion to the CPU the last one cost', () => {
    const p = new FanoutPacer({ cpuShare: 0.5 });
    p.published(1000, 0);
    // 100 ms of CPU since the last serial at a half-core share: a 200 ms window.
    expect(p.delay(1100, 100)).toBe(100);
    const q = new FanoutPacer({ cpuShare: 0.25 });
    q.published(1000, 0);
    expect(q.delay(1100, 100)).toBe(300);
  });

  it('never waits longer than maxWaitMs, and forgets the last serial on reset', () => {
    const p = new FanoutPacer({ maxWaitMs: 300 });
    p.published(1000, 0);
    expect(p.delay(1000, 10_000)).toBe(300);
    p.reset();
    expect(p.delay(1000, 10_000)).toBe(0);
  });
});
