import { describe, expect, it } from 'vitest';
import { onlyCountChanged, recordStatus, refusalTransition, sameStatus, zoneStatus } from './status.js';

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

describe('onlyCountChanged', () => {
  const v = { accepted: true, zone: 'z' } as const;
  it('is true when only the node count moved, false when Ready or anything else changed', () => {
    const ready3 = recordStatus(1, v, { acked: 3, total: 3 }, undefined, 'T1');
    const ready4 = recordStatus(1, v, { acked: 4, total: 4 }, ready3, 'T2');
    expect(onlyCountChanged(ready3, ready4)).toBe(true);
    const propagating = recordStatus(1, v, { acked: 3, total: 4 }, ready3, 'T2');
    expect(onlyCountChanged(ready3, propagating)).toBe(false); // Ready flipped
    const propagating2 = recordStatus(1, v, { acked: 2, total: 5 }, propagating, 'T3');
    expect(onlyCountChanged(propagating, propagating2)).toBe(true);
    expect(onlyCountChanged(ready3, recordStatus(2, v, { acked: 4, total: 4 }, ready3, 'T2'))).toBe(false); // new generation
    expect(onlyCountChanged(undefined, ready3)).toBe(false);
    const refused = recordStatus(1, { accepted: false, zone: undefined, reason: 'NoZone', message: 'm' }, { acked: 0, total: 3 }, ready3, 'T2');
    expect(onlyCountChanged(ready3, refused)).toBe(false);
  });

  it('treats a zone status the same way, and a serial change as a real change', () => {
    const zv = { accepted: true } as const;
    const a = zoneStatus(1, zv, 7, 10, { acked: 2, total: 2 }, undefined, 'T1');
    expect(onlyCountChanged(a, zoneStatus(1, zv, 7, 10, { acked: 3, total: 3 }, a, 'T2'))).toBe(true);
    expect(onlyCountChanged(a, zoneStatus(1, zv, 8, 10, { acked: 3, total: 3 }, a, 'T2'))).toBe(false);
  });
});

