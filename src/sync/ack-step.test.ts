import { describe, expect, it } from 'vitest';
import { ackStep } from './ack-step.js';

describe('ackStep', () => {
  const diff = { lastFrom: 10, lastTo: 12, firstFrom: 10 };
  it('in sync at the zone serial, ahead past it (serial arithmetic)', () => {
    expect(ackStep(12, 12, diff)).toBe('in-sync');
    expect(ackStep(13, 12, diff)).toBe('ahead');
    expect(ackStep(5, 0xfffffffe, diff)).toBe('ahead');
  });
  it('waits while the diff offered from its serial (or a plain NOTIFY) is still the way', () => {
    expect(ackStep(10, 12, diff)).toBe('wait');
    expect(ackStep(7, 12, { lastFrom: undefined, lastTo: 12, firstFrom: undefined })).toBe('wait');
  });
  it('waits part way along a chain of legs, sends otherwise', () => {
    expect(ackStep(11, 14, { lastFrom: 12, lastTo: 14, firstFrom: 10 })).toBe('wait');
    expect(ackStep(12, 14, { lastFrom: 12, lastTo: 14, firstFrom: 10 })).toBe('wait');
    expect(ackStep(10, 14, { lastFrom: 12, lastTo: 14, firstFrom: 10 })).toBe('send');
    // A newer serial published since the last offer: catch up at once.
    expect(ackStep(10, 13, diff)).toBe('send');
  });
});
