import { describe, expect, it } from 'vitest';
import type { Logger } from '../observability/logger.js';
import { ConnLimiter, RefusalLog } from './conn-limit.js';

describe('ConnLimiter', () => {
  it('refuses past the per-client cap, then past the total, and frees slots on release', () => {
    const l = new ConnLimiter({ perClient: 2, total: 3 });
    expect(l.admit('a')).toBeUndefined();
    expect(l.admit('a')).toBeUndefined();
    expect(l.admit('a')).toBe('per_client');
    expect(l.admit('b')).toBeUndefined();
    expect(l.admit('c')).toBe('total');
    expect(l.open).toBe(3);
    l.release('a');
    expect(l.admit('c')).toBeUndefined();
    expect(l.admit('a')).toBe('total');
    l.release('b');
    l.release('c');
    l.release('c'); // never admitted twice: ignored
    expect(l.open).toBe(1);
    expect(l.admit('a')).toBeUndefined();
    expect(l.admit('a')).toBe('per_client');
  });
});

describe('RefusalLog', () => {
  it('writes at most one line per interval, carrying the count since the last', () => {
    const lines: Record<string, unknown>[] = [];
    const fake = { warn: (o: Record<string, unknown>) => lines.push(o) } as unknown as Logger;
    const r = new RefusalLog(() => fake, 'dns 127.0.0.1:53', 1000);
    const limits = { perClient: 1, total: 2 };
    r.refused('10.0.0.1', 'per_client', limits, 0);
    for (let t = 1; t < 1000; t += 10) r.refused('10.0.0.1', 'per_client', limits, t);
    r.refused('10.0.0.2', 'total', limits, 1000);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ client: '10.0.0.1', reason: 'per_client', limit: 1, refused: 1 });
    expect(lines[1]).toMatchObject({ client: '10.0.0.2', reason: 'total', limit: 2, refused: 101 });
  });
});
