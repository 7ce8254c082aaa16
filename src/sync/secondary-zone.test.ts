import { describe, expect, it } from 'vitest';
import { rr, soa } from '../../test/util/zone-records.js';
import { buildSnapshot } from '../zone/snapshot.js';
import type { ZoneDiff } from '../zone/types.js';
import { followPrimary, newZoneState, notCovered, planNotify, refreshMs, retryMs } from './secondary-zone.js';
import { applyIxfrDiffs } from './ixfr-apply.js';

const O = 'secondary.test';
const held = buildSnapshot(O, [soa(O, 10), rr(`a.${O}`, 'A', '192.0.2.1')]);
const diff = (from: number, to: number): ZoneDiff => ({ origin: O, fromSerial: from, toSerial: to, soa: soa(O, to), deleted: [], added: [rr(`n${to}.${O}`, 'A', '192.0.2.9')] });

describe('planNotify', () => {
  it('applies a diff from our serial', () => {
    expect(planNotify(held, diff(10, 11), 11, false)).toBe('apply');
  });
  it('pulls when our data is from an older term, even at the same serial or with a diff from it', () => {
    expect(planNotify(held, diff(10, 11), 11, true)).toBe('pull');
    expect(planNotify(held, undefined, 10, true)).toBe('pull');
  });
  it('only answers a serial we hold or are past, and a diff from a base we are past', () => {
    expect(planNotify(held, undefined, 10, false)).toBe('answer');
    expect(planNotify(held, undefined, 9, false)).toBe('answer');
    expect(planNotify(held, diff(8, 9), 12, false)).toBe('answer');
  });
  it('pulls a newer serial without a usable diff, and a zone we do not hold', () => {
    expect(planNotify(held, undefined, 11, false)).toBe('pull');
    expect(planNotify(held, diff(11, 12), 12, false)).toBe('pull');
    expect(planNotify(undefined, diff(10, 11), 11, false)).toBe('pull');
  });
});

describe('followPrimary', () => {
  const A = { host: '127.0.0.1', port: 1 };
  const B = { host: '127.0.0.2', port: 2 };
  it('moves to a later-signed NOTIFY\'s endpoint, never to a replayed (older) one', () => {
    const st = newZoneState(O, false);
    followPrimary(st, A, 0n, 100);
    expect(st.primary).toEqual(A);
    followPrimary(st, B, 0n, 99);
    expect(st.primary).toEqual(A);
    followPrimary(st, B, 0n, 101);
    expect(st.primary).toEqual(B);
    expect(st.primarySince).toBe(101);
  });
  it('moves to a newer term whatever its signing time', () => {
    const st = newZoneState(O, false);
    followPrimary(st, A, 1n, 100);
    followPrimary(st, B, 2n, 50);
    expect(st.primary).toEqual(B);
    expect(st.primaryTerm).toBe(2n);
    expect(st.primarySince).toBe(100);
  });
});

describe('notCovered', () => {
  it('a running pull covers a serial up to its own, in the same term only', () => {
    const st = newZoneState(O, false);
    st.covers = 11;
    expect(notCovered(st, 11)).toBe(false);
    expect(notCovered(st, 12)).toBe(true);
    expect(notCovered(st, undefined)).toBe(true);
    st.primaryTerm = 3n;
    expect(notCovered(st, 11)).toBe(true);
  });
});

describe('refresh and retry intervals', () => {
  it('come from the SOA, at least a second, unless overridden', () => {
    const data = { mname: 'ns.', rname: 'h.', serial: 1, refresh: 0, retry: 7, expire: 100, minimum: 1 };
    expect(refreshMs(data, undefined)).toBe(1000);
    expect(retryMs(data, undefined)).toBe(7000);
    expect(refreshMs(undefined, undefined)).toBe(60_000);
    expect(retryMs(undefined, 5)).toBe(5);
  });
});

describe('applyIxfrDiffs', () => {
  it('applies a chain of diffs from what we hold', () => {
    const r = applyIxfrDiffs(held, [diff(10, 11), diff(11, 12)]);
    expect(r.kind === 'applied' && r.snap.serial).toBe(12);
  });
  it('says we are there when the last diff is not past our serial', () => {
    expect(applyIxfrDiffs(held, [diff(9, 10)]).kind).toBe('there');
  });
  it('says the zone moved when the first diff starts elsewhere', () => {
    expect(applyIxfrDiffs(held, [diff(11, 12)]).kind).toBe('moved');
  });
});
