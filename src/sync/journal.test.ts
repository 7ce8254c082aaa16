import { describe, expect, it } from 'vitest';
import { canonicalRR } from '../dns/rdata.js';
import type { RR } from '../dns/rr.js';
import { applyDiff } from '../zone/diff.js';
import { buildSnapshot } from '../zone/snapshot.js';
import type { ZoneDiff, ZoneSnapshot } from '../zone/types.js';
import { Journal, condense } from './journal.js';

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
});
