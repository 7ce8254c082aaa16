/**
 * The test oracle itself: the documented rules applied to hand-made API objects, and a
 * comparison that catches an agent holding more than the API says, not only less.
 */
import { describe, expect, it } from 'vitest';
import { recordKey } from '../../src/dns/rdata.js';
import type { RR } from '../../src/dns/rr.js';
import { agentsDiffer, type HeldZones } from './harness.js';
import { expectedFromObjects, type ApiRecord, type ApiZone } from './oracle.js';

const T = (s: number): string => new Date(1_700_000_000_000 + s * 1000).toISOString();
const zone = (name: string, zoneName: string, created: number, extra: Partial<ApiZone['spec']> = {}): ApiZone => ({ metadata: { name, creationTimestamp: T(created) }, spec: { zone: zoneName, ...extra } });
/** One expected record in the form agents are compared in (rrString in harness.ts). */
const k = (name: string, type: string, data: unknown, ttl: number): string => `${recordKey({ name, type, data } as RR)} ttl=${ttl}`;
const rec = (ns: string, name: string, created: number, spec: ApiRecord['spec']): ApiRecord => ({ metadata: { name, namespace: ns, creationTimestamp: T(created) }, spec });

describe('expectedFromObjects', () => {
  it('applies the documented rules', () => {
    const zones = [zone('z', 'z.test.', 0, { defaultTTL: 60 }), zone('sub', 'sub.z.test', 0), zone('sel', 'sel.test', 0, { namespaceSelector: { matchLabels: { pub: 'yes' } } }), zone('z-late', 'Z.test', 5)];
    const namespaces = [{ metadata: { name: 'a', labels: { pub: 'yes' } } }, { metadata: { name: 'b' } }];
    const records = [
      // merge within a namespace, lowest TTL, duplicates once; another namespace is refused
      rec('a', 'w1', 1, { name: 'www.z.test', type: 'A', ttl: 90, values: ['10.0.0.1', '10.0.0.2'] }),
      rec('a', 'w2', 2, { name: 'WWW.z.test.', type: 'A', values: ['10.0.0.2', '10.0.0.3'] }),
      rec('b', 'w3', 0, { name: 'www.z.test', type: 'AAAA', values: ['::1'] }),
      rec('b', 'w4', 3, { name: 'www.z.test', type: 'A', values: ['10.6.6.6'] }),
      // the most specific zone; a name in no zone
      rec('a', 's', 1, { name: 'x.sub.z.test', type: 'TXT', values: ['hi'] }),
      rec('a', 'none', 1, { name: 'x.nowhere.test', type: 'A', values: ['10.0.0.9'] }),
      // the selector
      rec('a', 'ok', 1, { name: 'ok.sel.test', type: 'A', values: ['10.1.0.1'] }),
      rec('b', 'denied', 1, { name: 'no.sel.test', type: 'A', values: ['10.1.0.2'] }),
      // CNAME: the older side stays; a CNAME at the apex is refused; one CNAME per name
      rec('a', 'c-old', 1, { name: 'c.z.test', type: 'CNAME', values: ['www'] }),
      rec('a', 'c-data', 2, { name: 'c.z.test', type: 'TXT', values: ['late'] }),
      rec('a', 'c-two', 3, { name: 'c.z.test', type: 'CNAME', values: ['other.z.test.'] }),
      rec('a', 'd-data', 1, { name: 'd.z.test', type: 'TXT', values: ['early'] }),
      rec('a', 'd-cname', 2, { name: 'd.z.test', type: 'CNAME', values: ['www'] }),
      rec('a', 'apex', 1, { name: 'z.test', type: 'CNAME', values: ['www'] }),
      // a bad value refuses the record
      rec('a', 'bad', 1, { name: 'bad.z.test', type: 'A', values: ['not-an-ip'] }),
    ];
    const got = expectedFromObjects(zones, records, namespaces);
    expect([...got.keys()].sort()).toEqual(['sel.test', 'sub.z.test', 'z.test']);
    expect(got.get('z.test')).toEqual(
      [
        k('c.z.test', 'CNAME', 'www.z.test', 60),
        k('d.z.test', 'TXT', [Buffer.from('early')], 60),
        k('www.z.test', 'A', '10.0.0.1', 60),
        k('www.z.test', 'A', '10.0.0.2', 60),
        k('www.z.test', 'A', '10.0.0.3', 60),
        k('www.z.test', 'AAAA', '::1', 60),
      ].sort(),
    );
    expect(got.get('sub.z.test')).toEqual([k('x.sub.z.test', 'TXT', [Buffer.from('hi')], 30)]);
    expect(got.get('sel.test')).toEqual([k('ok.sel.test', 'A', '10.1.0.1', 30)]);
  });
});

describe('expectedFromObjects: the RRset size limit (64,000 octets)', () => {
  it('merges oldest first; a record past the limit is refused whole, its TTL with it; a later one adding only values already there is taken', () => {
    const zones = [zone('z', 'z.test', 0)];
    const ips = (i: number): string[] => Array.from({ length: 100 }, (_, j) => `10.${i}.${j >> 8}.${j & 255}`);
    // 40 × 100 A = 4,000 × 16 octets = 64,000: the limit exactly; the 41st does not fit.
    const records = Array.from({ length: 41 }, (_, i) => rec('a', `m${String(i).padStart(2, '0')}`, i, { name: 'many.z.test', type: 'A', ...(i === 40 ? { ttl: 5 } : {}), values: ips(i) }));
    // A value already there adds nothing: taken, with its TTL.
    records.push(rec('a', 'again', 50, { name: 'many.z.test', type: 'A', ttl: 10, values: ['10.0.0.0'] }));
    const got = expectedFromObjects(zones, records, [{ metadata: { name: 'a' } }]).get('z.test') ?? [];
    const a = got.filter((r) => r.startsWith('many.z.test\u0000A\u0000'));
    expect(a).toHaveLength(4000);
    expect(a.every((r) => r.endsWith(' ttl=10'))).toBe(true);
    expect(a).not.toContain(k('many.z.test', 'A', '10.40.0.0', 10));
    // TXT of 1,000 octets: four strings, 12 + 1,004 = 1,016 octets a record; 62 take 62,992, a 63rd would pass 64,000.
    const txt = (n: number): ApiRecord => rec('a', `t${n}`, n, { name: 'txt.z.test', type: 'TXT', values: [`${String(n).padStart(3, '0')}${'x'.repeat(997)}`] });
    const big = expectedFromObjects(zones, Array.from({ length: 64 }, (_, n) => txt(n)), [{ metadata: { name: 'a' } }]).get('z.test') ?? [];
    expect(big).toHaveLength(62);
  });
});

function held(name: string, zones: Record<string, string[]>): HeldZones {
  return { name, zones: () => Object.keys(zones), records: (o) => zones[o] };
}

describe('agentsDiffer', () => {
  const want = new Map([['a.test', ['r1', 'r2']]]);
  it('equal: undefined', () => {
    expect(agentsDiffer([held('x', { 'a.test': ['r1', 'r2'] })], want)).toBeUndefined();
  });
  it('a record missing or one too many', () => {
    expect(agentsDiffer([held('x', { 'a.test': ['r1'] })], want)).toMatch(/missing \["r2"\]/);
    expect(agentsDiffer([held('x', { 'a.test': ['r1', 'r2', 'r3'] })], want)).toMatch(/extra \["r3"\]/);
  });
  it('a stale zone the API no longer has; zones outside the scope are not looked at', () => {
    expect(agentsDiffer([held('x', { 'a.test': ['r1', 'r2'], 'gone.test': [] })], want)).toBe('x holds zone(s) the API does not: ["gone.test"]');
    expect(agentsDiffer([held('x', { 'a.test': ['r1', 'r2'], 'other.test': [] })], want, (o) => o !== 'other.test')).toBeUndefined();
  });
});
