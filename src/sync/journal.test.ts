import { describe, expect, it } from 'vitest';
import { canonicalRR } from '../dns/rdata.js';
import type { RR } from '../dns/rr.js';
import { applyDiff } from '../zone/diff.js';
import { buildSnapshot } from '../zone/snapshot.js';
import type { ZoneDiff, ZoneSnapshot } from '../zone/types.js';
import { Journal, TOO_LARGE, condense } from './journal.js';

const O = 'j.test';
const a = (n: string, ip: string, ttl = 60): RR => canonicalRR({ name: `${n}.${O}`, type: 'A', ttl, data: ip });
const soa = (serial: number): RR => canonicalRR({ name: O, type: 'SOA', ttl: 60, data: { mname: `ns.${O}`, rname: `h.${O}`, serial, refresh: 60, retry: 10, expire: 3600, minimum: 5 } });
const step = (from: number, deleted: RR[], added: RR[]): ZoneDiff => ({ origin: O, fromSerial: from, toSerial: from + 1, soa: soa(from + 1), deleted, added });
const keys = (z: ZoneSnapshot): string[] => [...z.records()].filter((r) => r.type !== 'SOA').map((r) => `${r.name} ${String(r.data)} ${r.ttl}`).sort();

describe('journal', () => {
  const steps = [
    step(1, [], [a('x', '10.0.0.1'), a('y', '10.0.0.2')]),
    step(2, [a('x', '10.0.0.1')], [a('z', '10.0.0.3')]),
    step(3, [a('y', '10.0.0.2')], [a('y', '10.0.0.2', 300), a('x', '10.0.0.1')]), // TTL change + re-add
    step(4, [a('z', '10.0.0.3')], []),
  ];

  it('a condensed diff has the same effect as applying the steps one by one', () => {
    const base = buildSnapshot(O, [soa(1), a('w', '10.0.0.9')]);
    let stepwise: ZoneSnapshot = base;
    for (const d of steps) stepwise = applyDiff(stepwise, d);
    const c = condense(steps);
    expect(c.fromSerial).toBe(1);
    expect(c.toSerial).toBe(5);
    const once = applyDiff(base, c);
    expect(keys(once)).toEqual(keys(stepwise));
    // x was added, deleted, re-added; z added then deleted: neither appears as a change twice.
    expect(c.deleted).toEqual([]);
    expect(c.added.map((r) => `${r.name} ${r.ttl}`).sort()).toEqual([`x.${O} 60`, `y.${O} 300`]);
  });

  it('diffPrefix: the longest leg within a budget, which applied leg by leg reaches the same zone', () => {
    const j = new Journal();
    for (const d of steps) j.append(d);
    const one = (): number => 1; // every record costs 1: the budget counts condensed records
    // Step 1 alone holds 2 records, steps 1-2 condense to {y, z} added (x cancels): 2, steps
    // 1-3 to {x, y@300, z}: 3, steps 1-4 to {x, y@300}: 2 again, and the walk stops at the
    // first step that goes over, so a budget of 2 gives the leg 1 → 3.
    const leg = j.diffPrefix(1, 2, one);
    expect(leg && [leg.fromSerial, leg.toSerial]).toEqual([1, 3]);
    expect(leg?.soa).toEqual(soa(3));
    expect(j.diffPrefix(1, 1, one)).toBeUndefined(); // the first step alone is over budget
    expect(j.diffPrefix(9, 100, one)).toBeUndefined(); // not a serial of this journal
    const whole = j.diffPrefix(1, 100, one);
    expect(whole && [whole.fromSerial, whole.toSerial]).toEqual([1, 5]);

    const base = buildSnapshot(O, [soa(1), a('w', '10.0.0.9')]);
    let stepwise: ZoneSnapshot = base;
    for (const d of steps) stepwise = applyDiff(stepwise, d);
    let legwise: ZoneSnapshot = base;
    while (legwise.serial !== 5) {
      // Budget 3: step 3 alone holds 3 records (y deleted, y@300 and x added).
      const l = j.diffPrefix(legwise.serial, 3, one);
      if (!l) throw new Error(`no leg from ${legwise.serial}`);
      legwise = applyDiff(legwise, l);
    }
    expect(keys(legwise)).toEqual(keys(stepwise));
  });

  it('answers from any serial it holds, and not from one it does not', () => {
    const j = new Journal({ maxEntries: 3 });
    for (const d of steps) j.append(d);
    expect(j.length).toBe(3);
    expect(j.oldestSerial).toBe(2);
    expect(j.diffFrom(1)).toBeUndefined();
    expect(j.diffFrom(2)?.toSerial).toBe(5);
    expect(j.diffFrom(4)).toBe(steps[3]);
    expect(j.diffFrom(5)).toBeUndefined();
  });

  it('is bounded by records too, and restarts when a diff does not follow on', () => {
    const j = new Journal({ maxRecords: 3 });
    for (const d of steps) j.append(d);
    expect(j.diffFrom(1)).toBeUndefined();
    expect(j.diffFrom(4)).toBeDefined();
    j.append(step(10, [], [a('q', '10.0.0.4')]));
    expect(j.length).toBe(1);
    expect(j.diffFrom(4)).toBeUndefined();
  });

  it('cached condensed diffs equal a fresh condense of the same steps, however the asks interleave', () => {
    // Deterministic pseudo-random churn over a small name space, so adds and deletes cancel.
    let seed = 7;
    const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
    const live = new Map<string, RR>();
    const all: ZoneDiff[] = [];
    const j = new Journal({ maxCondensed: 4 });
    for (let s = 1; s <= 300; s++) {
      const deleted: RR[] = [];
      const added: RR[] = [];
      const touched = new Set<string>();
      for (let m = 0; m < 3; m++) {
        const rr = a(`n${rnd(20)}`, `10.0.0.${rnd(3)}`, 60 + rnd(2));
        const k = `${rr.name} ${String(rr.data)} ${rr.ttl}`;
        if (touched.has(k)) continue; // a valid step never deletes and adds the same record
        touched.add(k);
        if (live.has(k)) {
          deleted.push(live.get(k) as RR);
          live.delete(k);
        } else {
          added.push(rr);
          live.set(k, rr);
        }
      }
      const d = step(s, deleted, added);
      all.push(d);
      j.append(d);
      // Agents asking from a handful of bases, some repeatedly, some once.
      for (const from of [1, 1 + rnd(s), s - rnd(5), 50]) {
        const got = j.diffFrom(from);
        if (from < 1 || from > s) {
          expect(got).toBeUndefined();
          continue;
        }
        const want = condense(all.slice(from - 1));
        expect(got?.fromSerial).toBe(from);
        expect(got?.toSerial).toBe(s + 1);
        expect(got?.deleted).toEqual(want.deleted);
        expect(got?.added).toEqual(want.added);
      }
      expect(j.cachedCondensed).toBeLessThanOrEqual(4);
    }
  });

  it('drops cached diffs whose base is trimmed or when the history restarts; reports too-large without building', () => {
    const j = new Journal({ maxEntries: 3 });
    j.append(step(1, [], [a('x', '10.0.0.1')]));
    j.append(step(2, [], [a('y', '10.0.0.2')]));
    j.append(step(3, [], [a('z', '10.0.0.3')]));
    expect(j.diffFrom(1)?.added).toHaveLength(3);
    expect(j.diffWithin(1, 2)).toBe(TOO_LARGE);
    expect(j.diffWithin(3, 0)).toBe(TOO_LARGE);
    expect(j.diffWithin(2, 2)).not.toBe(TOO_LARGE);
    expect(j.cachedCondensed).toBe(2);
    j.append(step(4, [a('x', '10.0.0.1')], []));
    expect(j.cachedCondensed).toBe(1); // base 1 trimmed
    expect(j.diffFrom(1)).toBeUndefined();
    expect(j.diffFrom(2)?.deleted).toEqual([a('x', '10.0.0.1')]);
    j.append(step(9, [], [a('q', '10.0.0.4')]));
    expect(j.cachedCondensed).toBe(0);
    expect(j.diffFrom(2)).toBeUndefined();
  });

  it('keeps the cached diffs within the record budget, least recently used out first', () => {
    const j = new Journal({ maxRecords: 10 });
    for (let s = 1; s <= 5; s++) j.append(step(s, [], [a(`r${s}`, '10.0.0.1')]));
    j.diffFrom(1); // 5 records
    j.diffFrom(2); // 4
    expect(j.cachedCondensed).toBe(2);
    j.diffFrom(3); // 3: 12 > 10, base 1 goes
    expect(j.cachedCondensed).toBe(2);
    j.diffFrom(2);
    j.diffFrom(1); // rebuilt: 5 + 4 + 3 > 10 again, base 3 (least recent) goes
    expect(j.cachedCondensed).toBe(2);
    expect(j.diffFrom(1)?.added).toHaveLength(5);
  });
});
