import { describe, expect, it } from 'vitest';
import { SendWindow } from './send-window.js';

describe('SendWindow', () => {
  it('admits up to maxInFlight and queues the rest in arrival order', () => {
    const w = new SendWindow<string>({ maxInFlight: 2, maxPulls: 1 });
    expect(w.admit('a', false)).toBe(true);
    expect(w.admit('b', false)).toBe(true);
    expect(w.admit('c', false)).toBe(false);
    expect(w.admit('d', false)).toBe(false);
    expect(w.queued).toBe(2);
    expect(w.release('a')).toEqual(['c']);
    expect(w.holds('c')).toBe(true);
    expect(w.release('b')).toEqual(['d']);
    expect(w.release('c')).toEqual([]);
    expect(w.inFlight).toBe(1);
  });

  it('lets only maxPulls pull at once, and keeps order behind a waiting pull', () => {
    const w = new SendWindow<string>({ maxInFlight: 10, maxPulls: 2 });
    expect(w.admit('p1', true)).toBe(true);
    expect(w.admit('p2', true)).toBe(true);
    expect(w.admit('p3', true)).toBe(false);
    // Once anyone waits, newcomers queue behind them (no overtaking).
    expect(w.admit('n1', false)).toBe(false);
    expect(w.pulling).toBe(2);
    expect(w.release('p1')).toEqual(['p3', 'n1']);
    expect(w.pulling).toBe(2);
    expect(w.inFlight).toBe(3);
  });

  it('keeps a slot for an item admitted again, and drops an item released while queued', () => {
    const w = new SendWindow<string>({ maxInFlight: 1 });
    expect(w.admit('a', false)).toBe(true);
    expect(w.admit('a', true)).toBe(true);
    expect(w.pulling).toBe(1);
    expect(w.admit('b', false)).toBe(false);
    expect(w.admit('c', false)).toBe(false);
    expect(w.release('b')).toEqual([]);
    expect(w.release('a')).toEqual(['c']);
    expect(w.queued).toBe(0);
  });
});
