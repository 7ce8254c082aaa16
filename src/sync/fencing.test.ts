import { describe, expect, it } from 'vitest';
import { aheadVerdict, startTerm } from './fencing.js';

describe('aheadVerdict', () => {
  it('only a newer term overrules an agent ahead of it; an older one stops; otherwise nothing moves', () => {
    expect(aheadVerdict(7n, 6n)).toBe('resume');
    expect(aheadVerdict(7n, 8n)).toBe('deposed');
    expect(aheadVerdict(7n, 7n)).toBe('hold');
    expect(aheadVerdict(7n, undefined)).toBe('hold'); // a standard secondary says no term
    expect(aheadVerdict(0n, 0n)).toBe('hold'); // no terms at all: never leapfrog
  });

  it("an agent's first answer to a leader counts as the probe it missed, at the same term or none; never against a newer one", () => {
    expect(aheadVerdict(0n, 0n, true)).toBe('resume');
    expect(aheadVerdict(7n, 7n, true)).toBe('resume');
    expect(aheadVerdict(7n, undefined, true)).toBe('resume');
    expect(aheadVerdict(7n, 8n, true)).toBe('deposed');
    expect(aheadVerdict(0n, 8n, true)).toBe('hold'); // we have no term; it follows an elected leader
  });
});

describe('startTerm', () => {
  it('grows with the start time and sits on the Lease terms scale', () => {
    const t = Date.UTC(2026, 0, 1);
    expect(startTerm(t + 1) > startTerm(t)).toBe(true);
    expect(startTerm(t + 1000) > startTerm(t + 999)).toBe(true);
    expect(startTerm(t) >> 32n).toBe(BigInt(t / 1000));
  });
});
