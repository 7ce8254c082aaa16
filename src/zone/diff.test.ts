import { describe, expect, it } from 'vitest';
import { applyDiff, diffRecords } from './diff.js';
import { buildSnapshot } from './snapshot.js';
import { DiffBaseError, DiffConflictError, ZoneError } from './errors.js';
import { rr, soa } from '../../test/util/zone-records.js';
import type { RR } from '../dns/rr.js';
import type { ZoneDiff } from './types.js';
import { recordKey } from '../dns/rdata.js';

const O = 'diff.test';

function keys(rrs: Iterable<RR>): string[] {
  return [...rrs].map((r) => `${recordKey(r)}/${r.ttl}`).sort();
}

function diffOf(from: number, to: number, deleted: RR[], added: RR[]): ZoneDiff {
  return { origin: O, fromSerial: from, toSerial: to, soa: soa(O, to), deleted, added };
}

describe('diffRecords', () => {
  it('finds adds, deletes and TTL changes, ignoring SOA and name/rdata case', () => {
    const before = [soa(O, 1), rr(`a.${O}`, 'A', '192.0.2.1'), rr(`b.${O}`, 'A', '192.0.2.2'), rr(`c.${O}`, 'CNAME', `a.${O}`)];
    const after = [soa(O, 2), rr(`A.${O}`, 'A', '192.0.2.1'), rr(`b.${O}`, 'A', '192.0.2.2', 60), { ...rr(`c.${O}`, 'CNAME', `a.${O}`), data: `A.DIFF.TEST.` } as RR, rr(`d.${O}`, 'TXT', ['x'])];
    const d = diffRecords(before, after);
    expect(d.deleted.map((r) => `${r.name}/${r.ttl}`)).toEqual([`b.${O}/300`]);
    expect(d.added.map((r) => `${r.name}/${r.ttl}`)).toEqual([`b.${O}/60`, `d.${O}/300`]);
  });

  it('is empty for identical sets', () => {
    const recs = [rr(`a.${O}`, 'TXT', ['x', 'y']), rr(`a.${O}`, 'TXT', ['x'])];
    expect(diffRecords(recs, [...recs].reverse())).toEqual({ deleted: [], added: [] });
  });
});

describe('applyDiff', () => {
  const base = buildSnapshot(O, [soa(O, 5), rr(`a.${O}`, 'A', '192.0.2.1'), rr(`x.y.${O}`, 'TXT', ['t'])]);

  it('applies deletes then adds and leaves the old snapshot intact', () => {
    const next = applyDiff(base, diffOf(5, 6, [rr(`x.y.${O}`, 'TXT', ['t'])], [rr(`a.${O}`, 'A', '192.0.2.9'), rr(`n.${O}`, 'AAAA', '2001:db8::1')]));
    expect(next.serial).toBe(6);
    expect(next.size).toBe(4);
    expect(next.lookup(`y.${O}`, 'A').kind).toBe('nxdomain');
    expect(next.lookup(`n.${O}`, 'AAAA').kind).toBe('answer');
    const a = next.lookup(`a.${O}`, 'A');
    expect(a.kind === 'answer' && a.answer.map((r) => r.data)).toEqual(['192.0.2.1', '192.0.2.9']);
    // Old snapshot unchanged.
    expect(base.serial).toBe(5);
    expect(base.size).toBe(3);
    expect(base.lookup(`y.${O}`, 'A').kind).toBe('nodata');
    expect(base.lookup(`n.${O}`, 'AAAA').kind).toBe('nxdomain');
    // Same records as a full rebuild.
    const rebuilt = buildSnapshot(O, next.records());
    expect(keys(rebuilt.records())).toEqual(keys(next.records()));
  });

  it('refuses a diff from another serial', () => {
    expect(() => applyDiff(base, diffOf(4, 6, [], []))).toThrow(DiffBaseError);
  });

  it('refuses conflicting diffs and stays intact', () => {
    expect(() => applyDiff(base, diffOf(5, 6, [rr(`a.${O}`, 'A', '192.0.2.2')], []))).toThrow(DiffConflictError);
    expect(() => applyDiff(base, diffOf(5, 6, [], [rr(`a.${O}`, 'A', '192.0.2.1', 9)]))).toThrow(DiffConflictError);
    expect(() => applyDiff(base, diffOf(5, 6, [], [rr(`a.${O}`, 'CNAME', `b.${O}`)]))).toThrow(ZoneError);
    expect(() => applyDiff(base, diffOf(5, 6, [], [rr('elsewhere.test', 'A', '192.0.2.1')]))).toThrow(/outside the zone/);
    expect(() => applyDiff(base, { ...diffOf(5, 6, [], []), soa: soa(O, 7) })).toThrow(/toSerial/);
    expect(base.size).toBe(3);
    expect([...base.records()].length).toBe(3);
    const a = base.lookup(`a.${O}`, 'A');
    expect(a.kind === 'answer' && a.answer.length).toBe(1);
  });

  it('shares every untouched entry with the old snapshot', () => {
    const big = buildSnapshot(O, [soa(O, 1), ...Array.from({ length: 5000 }, (_, i) => rr(`h${i}.${O}`, 'A', '192.0.2.1'))]);
    const next = applyDiff(big, { origin: O, fromSerial: 1, toSerial: 2, soa: soa(O, 2), deleted: [rr(`h7.${O}`, 'A', '192.0.2.1')], added: [rr(`new.${O}`, 'A', '192.0.2.2')] });
    let shared = 0;
    for (let i = 0; i < 5000; i++) if (next.names.get(`h${i}.${O}`) === big.names.get(`h${i}.${O}`)) shared++;
    // h7 is gone; every other entry is the very same object.
    expect(shared).toBe(4999);
    expect(next.names.get(`h7.${O}`)).toBeUndefined();
    expect(big.names.get(`h7.${O}`)).toBeDefined();
  });

  it('a TTL change is delete plus add', () => {
    const next = applyDiff(base, diffOf(5, 6, [rr(`a.${O}`, 'A', '192.0.2.1')], [rr(`a.${O}`, 'A', '192.0.2.1', 7)]));
    const a = next.lookup(`a.${O}`, 'A');
    expect(a.kind === 'answer' && a.answer[0]?.ttl).toBe(7);
  });

  it('matches a full rebuild over a random sequence of diffs (structure sharing is invisible)', () => {
    let s = 1;
    const rand = (): number => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
    let snap = buildSnapshot(O, [soa(O, 100), ...Array.from({ length: 500 }, (_, i) => rr(`h${i}.g${i % 7}.${O}`, 'A', `10.0.${i >> 8}.${i & 255}`))]);
    const current = new Map<string, RR>();
    for (const r of snap.records()) if (r.type !== 'SOA') current.set(recordKey(r), r);
    const snaps = [snap];
    for (let step = 0; step < 300; step++) {
      const deleted: RR[] = [];
      const added: RR[] = [];
      const all = [...current.values()];
      for (let k = 0; k < 3 && all.length > 0; k++) {
        const victim = all[Math.floor(rand() * all.length)];
        if (victim !== undefined && !deleted.includes(victim)) deleted.push(victim);
      }
      for (let k = 0; k < 3; k++) {
        const n = Math.floor(rand() * 2000);
        const cand = rr(`h${n}.g${n % 11}.${O}`, 'A', `10.1.${n >> 8}.${n & 255}`);
        if (!current.has(recordKey(cand)) && !added.some((a) => recordKey(a) === recordKey(cand))) added.push(cand);
      }
      snap = applyDiff(snap, diffOf(snap.serial, snap.serial + 1, deleted, added));
      for (const d of deleted) current.delete(recordKey(d));
      for (const a of added) current.set(recordKey(a), a);
      snaps.push(snap);
    }
    expect(snap.size).toBe(current.size + 1);
    expect(keys([...snap.records()].filter((r) => r.type !== 'SOA'))).toEqual(keys(current.values()));
    // Existence (ENT) bookkeeping matches a rebuild for every group name.
    const rebuilt = buildSnapshot(O, snap.records());
    for (let g = 0; g < 11; g++) {
      expect(snap.lookup(`g${g}.${O}`, 'A').kind).toBe(rebuilt.lookup(`g${g}.${O}`, 'A').kind);
    }
    // The first snapshot still has its 500 records and answers as it did, though its fast
    // read index has moved on to its successors.
    const first = snaps[0]!;
    expect([...first.records()].length).toBe(501);
    const initial = buildSnapshot(O, first.records());
    const final = buildSnapshot(O, snap.records());
    for (let n = 0; n < 2000; n += 7) {
      for (const g of [n % 7, n % 11]) {
        const q = `h${n}.g${g}.${O}`;
        expect(first.lookup(q, 'A')).toEqual(initial.lookup(q, 'A'));
        expect(snap.lookup(q, 'A')).toEqual(final.lookup(q, 'A'));
      }
    }
    // A branch off the old snapshot works too.
    const branch = applyDiff(first, diffOf(100, 101, [], [rr(`branch.${O}`, 'A', '192.0.2.77')]));
    expect(branch.lookup(`branch.${O}`, 'A').kind).toBe('answer');
    expect(first.lookup(`branch.${O}`, 'A').kind).toBe('nxdomain');
    expect(snap.lookup(`branch.${O}`, 'A').kind).toBe('nxdomain');
  });
});
