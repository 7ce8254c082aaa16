import { describe, expect, it } from 'vitest';
import { Heartbeat, roundMs } from './heartbeat.js';

/** Drives a heartbeat on a fake clock; returns the times at which each target was probed. */
async function run(targets: number, opts: { intervalMs: number; maxPerSecond: number }, forMs: number, answerMs = 5): Promise<Map<number, number[]>> {
  let now = 0;
  const list = Array.from({ length: targets }, (_, i) => i);
  const seen = new Map<number, number[]>();
  const settle: Array<{ at: number; done: () => void }> = [];
  const hb = new Heartbeat(opts, () => list, (t) => {
    seen.set(t, [...(seen.get(t) ?? []), now]);
    return new Promise<void>((resolve) => settle.push({ at: now + answerMs, done: resolve }));
  }, () => now);
  for (; now <= forMs; now += 50) {
    hb.tick();
    for (const s of settle.splice(0)) s.done();
    await new Promise((r) => setImmediate(r)); // let the settled probes' handlers run
  }
  return seen;
}

describe('heartbeat', () => {
  it('stretches the round when the rate cap demands it', () => {
    expect(roundMs(10, { intervalMs: 5000, maxPerSecond: 500 })).toBe(5000);
    expect(roundMs(10_000, { intervalMs: 5000, maxPerSecond: 500 })).toBe(20_000);
  });

  it('5,000 agents × 2 zones at 500/s: never more than 500 probes in any second, each target once per 20 s round', async () => {
    const seen = await run(10_000, { intervalMs: 5000, maxPerSecond: 500 }, 41_000);
    const times = [...seen.values()].flat().sort((a, b) => a - b);
    // Sliding one-second windows over every probe time.
    let j = 0;
    let worst = 0;
    for (let i = 0; i < times.length; i++) {
      while ((times[i] as number) - (times[j] as number) >= 1000) j++;
      worst = Math.max(worst, i - j + 1);
    }
    expect(worst).toBeLessThanOrEqual(500);
    expect(seen.size).toBe(10_000);
    for (const t of seen.values()) {
      expect(t.length).toBeGreaterThanOrEqual(2);
      expect(t.length).toBeLessThanOrEqual(3);
      expect((t[1] as number) - (t[0] as number)).toBeGreaterThanOrEqual(19_000);
    }
  });

  it('few targets: each probed every interval, spread out rather than in one burst', async () => {
    const seen = await run(4, { intervalMs: 1000, maxPerSecond: 500 }, 3000);
    for (const t of seen.values()) expect(t.length).toBeGreaterThanOrEqual(3);
    const firstRound = [...seen.values()].map((t) => t[0] as number).sort((a, b) => a - b);
    expect(firstRound).toEqual([0, 250, 500, 750]);
  });
});
