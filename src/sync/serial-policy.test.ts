import { describe, expect, it } from 'vitest';
import { canonicalRR } from '../dns/rdata.js';
import type { RR } from '../dns/rr.js';
import { inZoneLength, makeSoa, planSteps, sameParams, SerialFloors, serialAfter } from './serial-policy.js';

const O = 'sp.test';
const a = (n: string, ip: string): RR => canonicalRR({ name: `${n}.${O}`, type: 'A', ttl: 60, data: ip });

describe('serial policy', () => {
  it('the SOA takes the defaults, and its TTL the negative-caching TTL', () => {
    const soa = makeSoa(O, 7, { minimum: 30 });
    expect(soa.ttl).toBe(30);
    expect(soa.data).toMatchObject({ serial: 7, mname: `ns.${O}`, refresh: 60, retry: 10, expire: 3600, minimum: 30 });
    expect(sameParams({ refresh: 5 }, { refresh: 5 })).toBe(true);
    expect(sameParams({ refresh: 5 }, { refresh: 6 })).toBe(false);
  });

  it('a first serial is the clock, or past a floor the clock has not reached; floors only rise', () => {
    const f = new SerialFloors();
    expect(f.first(O, 1000)).toBe(1000);
    f.raise(O, 2000);
    f.raise(O, 1500);
    expect(f.first(O, 1000)).toBe(2001);
    expect(f.first(O, 3000)).toBe(3000);
    // RFC 1982: past the wrap
    f.raise('w.test', 0xffffffff);
    expect(f.first('w.test', 5)).toBe(5);
  });

  it('the next serial passes a serial seen elsewhere when that is later', () => {
    expect(serialAfter(100, 50)).toBe(101);
    expect(serialAfter(100, 500)).toBe(500);
    expect(serialAfter(100, 50, 200)).toBe(201);
    expect(serialAfter(100, 50, 90)).toBe(101);
  });

  it('a batch that fits is one step; a larger one is cut between RRsets, never inside one', () => {
    const size = inZoneLength(O);
    const small = planSteps([], [a('x', '192.0.2.1')], 1000, size);
    expect(small).toHaveLength(1);
    const added: RR[] = [];
    for (let i = 0; i < 40; i++) added.push(a(`n${i}`, '192.0.2.1'), a(`n${i}`, '192.0.2.2'));
    const deleted = [a('old', '192.0.2.9')];
    const one = size(added[0] as RR);
    const steps = planSteps(deleted, added, one * 9, size);
    expect(steps.length).toBeGreaterThan(5);
    const seen = new Map<string, number>();
    steps.forEach((s, i) => {
      let bytes = 0;
      for (const rr of [...s.deleted, ...s.added]) {
        bytes += size(rr);
        const prev = seen.get(rr.name);
        expect(prev === undefined || prev === i).toBe(true);
        seen.set(rr.name, i);
      }
      expect(bytes).toBeLessThanOrEqual(one * 9);
    });
    expect(steps.flatMap((s) => s.added)).toHaveLength(80);
    expect(steps.flatMap((s) => s.deleted)).toEqual(deleted);
  });
});
