import { describe, expect, it } from 'vitest';
import { recordStatus, refusalTransition, sameStatus } from './status.js';

describe('recordStatus', () => {
  it('keeps lastTransitionTime while the condition status holds, and says N/N', () => {
    const a = recordStatus(1, { accepted: true, zone: 'z' }, { acked: 1, total: 3 }, undefined, 'T1');
    expect(a.nodes).toBe('1/3');
    expect(a.conditions.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'Propagating', lastTransitionTime: 'T1' });
    const b = recordStatus(1, { accepted: true, zone: 'z' }, { acked: 3, total: 3 }, a, 'T2');
    expect(b.conditions.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True', message: 'applied on 3/3 nodes', lastTransitionTime: 'T2' });
    expect(b.conditions.find((c) => c.type === 'Accepted')?.lastTransitionTime).toBe('T1');
    const c = recordStatus(1, { accepted: true, zone: 'z' }, { acked: 3, total: 3 }, b, 'T3');
    expect(sameStatus(b, c)).toBe(true);
  });

  it('a refusal is an event-worthy transition once', () => {
    const refused = recordStatus(1, { accepted: false, zone: undefined, reason: 'NoZone', message: 'm' }, { acked: 0, total: 2 }, undefined, 'T');
    expect(refusalTransition(undefined, refused)?.reason).toBe('NoZone');
    const again = recordStatus(2, { accepted: false, zone: undefined, reason: 'NoZone', message: 'm' }, { acked: 0, total: 2 }, refused, 'T');
    expect(refusalTransition(refused, again)).toBeUndefined();
  });

  it('zero ready agents is not Ready', () => {
    const s = recordStatus(1, { accepted: true, zone: 'z' }, { acked: 0, total: 0 }, undefined, 'T');
    expect(s.conditions.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'NoAgents' });
  });
});

describe('sameStatus', () => {
  it('ignores key order, sees any field change, and falls back for unknown shapes', () => {
    const a = recordStatus(1, { accepted: true, zone: 'z' }, { acked: 1, total: 2 }, undefined, 'T');
    const reordered = JSON.parse(JSON.stringify({ conditions: a.conditions, nodes: a.nodes, zone: a.zone, observedGeneration: a.observedGeneration })) as unknown;
    expect(sameStatus(a, reordered)).toBe(true);
    const b = recordStatus(1, { accepted: true, zone: 'z' }, { acked: 2, total: 2 }, a, 'T');
    expect(sameStatus(a, b)).toBe(false);
    expect(sameStatus({ extra: [1, { b: 2, a: 1 }] }, { extra: [1, { a: 1, b: 2 }] })).toBe(true);
    expect(sameStatus({ extra: 1 }, { extra: 2 })).toBe(false);
    expect(sameStatus(undefined, a)).toBe(false);
  });
});
