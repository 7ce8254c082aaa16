import { describe, expect, it } from 'vitest';
import { evaluateName, findZone, resolveZones, selectorMatches } from './policy.js';
import { recordRdata } from './rdata.js';
import { recordObj, zoneObj } from '../../test/util/controller-objects.js';

const zone = zoneObj('corp', 'corp.internal', { defaultTTL: 30 });
const noLabels = (): undefined => undefined;

describe('selectorMatches', () => {
  it('absent selector admits all, matchLabels and expressions narrow', () => {
    expect(selectorMatches(undefined, {})).toBe(true);
    expect(selectorMatches({ matchLabels: { a: '1' } }, { a: '1', b: '2' })).toBe(true);
    expect(selectorMatches({ matchLabels: { a: '1' } }, { a: '2' })).toBe(false);
    expect(selectorMatches({ matchExpressions: [{ key: 'env', operator: 'In', values: ['prod', 'dev'] }] }, { env: 'dev' })).toBe(true);
    expect(selectorMatches({ matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['prod'] }] }, { env: 'prod' })).toBe(false);
    expect(selectorMatches({ matchExpressions: [{ key: 'env', operator: 'Exists' }] }, {})).toBe(false);
    expect(selectorMatches({ matchExpressions: [{ key: 'env', operator: 'DoesNotExist' }] }, {})).toBe(true);
  });
});

describe('findZone', () => {
  it('picks the most specific zone', () => {
    const zones = new Map([
      ['corp.internal', 'parent'],
      ['shop.corp.internal', 'child'],
    ]);
    expect(findZone('api.shop.corp.internal', zones)).toBe('child');
    expect(findZone('x.corp.internal', zones)).toBe('parent');
    expect(findZone('corp.internal', zones)).toBe('parent');
    expect(findZone('example.com', zones)).toBeUndefined();
  });
});

describe('evaluateName', () => {
  it('refuses the records that would make an RRset unservable (5,000 A values), keeping the older ones', () => {
    // 50 records of 100 A values each: 5,000 × 16 octets do not fit 65,535; 4,000 do.
    const recs = Array.from({ length: 50 }, (_, i) =>
      recordObj('a', `r${String(i).padStart(2, '0')}`, 'big.corp.internal', 'A', Array.from({ length: 100 }, (_, k) => `10.${i}.${k >> 8}.${k & 0xff}`), { created: i }),
    );
    const out = evaluateName('big.corp.internal', recs, zone, noLabels, recordRdata);
    const refused = recs.filter((r) => out.verdicts.get(`a/${r.meta.name}`)?.accepted === false);
    expect(refused.map((r) => r.meta.name)).toEqual(recs.slice(40).map((r) => r.meta.name));
    expect(out.verdicts.get('a/r40')).toMatchObject({ accepted: false, reason: 'RRsetTooLarge' });
    expect((out.verdicts.get('a/r40') as { message: string }).message).toMatch(/65600 octets with this record.s 100 value\(s\), over the limit of 64000 .*; the 4000 value\(s\) of older records stay served/);
    expect(out.rrsets.get('A')).toHaveLength(4000);
    // Deleting ten of the older records makes room: every remaining one is accepted.
    const after = evaluateName('big.corp.internal', recs.slice(10), zone, noLabels, recordRdata);
    expect([...after.verdicts.values()].every((v) => v.accepted)).toBe(true);
    expect(after.rrsets.get('A')).toHaveLength(4000);
  });

  it('refuses one record of 100 × 2,048-octet TXT values outright: nothing to serve', () => {
    const r = recordObj('a', 'txt', 'fat.corp.internal', 'TXT', Array.from({ length: 100 }, (_, i) => String(i % 10).repeat(2048 - 3) + String(i).padStart(3, '0')));
    const out = evaluateName('fat.corp.internal', [r], zone, noLabels, recordRdata);
    expect(out.verdicts.get('a/txt')).toMatchObject({ accepted: false, reason: 'RRsetTooLarge' });
    expect(out.rrsets.has('TXT')).toBe(false);
  });

  it('refuses a name in no zone', () => {
    const r = recordObj('a', 'x', 'x.example.com', 'A', ['10.0.0.1']);
    const out = evaluateName('x.example.com', [r], undefined, noLabels, recordRdata);
    expect(out.verdicts.get('a/x')).toMatchObject({ accepted: false, reason: 'NoZone' });
    expect(out.rrsets.size).toBe(0);
  });

  it('merges one namespace, refuses a younger namespace, uses the lowest TTL', () => {
    const a1 = recordObj('a', 'one', 'api.corp.internal', 'A', ['10.0.0.1'], { created: 1, ttl: 60 });
    const a2 = recordObj('a', 'two', 'api.corp.internal', 'A', ['10.0.0.2', '10.0.0.1'], { created: 3 });
    const b = recordObj('b', 'x', 'api.corp.internal', 'A', ['10.9.9.9'], { created: 2 });
    const out = evaluateName('api.corp.internal', [a2, b, a1], zone, noLabels, recordRdata);
    expect(out.verdicts.get('a/one')?.accepted).toBe(true);
    expect(out.verdicts.get('a/two')?.accepted).toBe(true);
    expect(out.verdicts.get('b/x')).toMatchObject({ accepted: false, reason: 'NameConflict' });
    const rrs = out.rrsets.get('A') ?? [];
    expect(rrs.map((r) => r.data).sort()).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(rrs.every((r) => r.ttl === 30)).toBe(true);
  });

  it('ties on creation time break by namespace/name', () => {
    const a = recordObj('a', 'r', 'n.corp.internal', 'A', ['10.0.0.1'], { created: 5 });
    const b = recordObj('b', 'r', 'n.corp.internal', 'A', ['10.0.0.2'], { created: 5 });
    const out = evaluateName('n.corp.internal', [b, a], zone, noLabels, recordRdata);
    expect(out.verdicts.get('a/r')?.accepted).toBe(true);
    expect(out.verdicts.get('b/r')?.accepted).toBe(false);
  });

  it('CNAME beside other data: the older side stays', () => {
    const c = recordObj('a', 'c', 'www.corp.internal', 'CNAME', ['api.corp.internal.'], { created: 1 });
    const t = recordObj('a', 't', 'www.corp.internal', 'TXT', ['hello'], { created: 2 });
    let out = evaluateName('www.corp.internal', [c, t], zone, noLabels, recordRdata);
    expect(out.verdicts.get('a/c')?.accepted).toBe(true);
    expect(out.verdicts.get('a/t')).toMatchObject({ accepted: false, reason: 'CNAMEConflict' });
    expect([...out.rrsets.keys()]).toEqual(['CNAME']);
    const older = recordObj('a', 't', 'www.corp.internal', 'TXT', ['hello'], { created: 0 });
    out = evaluateName('www.corp.internal', [c, older], zone, noLabels, recordRdata);
    expect(out.verdicts.get('a/c')).toMatchObject({ accepted: false, reason: 'CNAMEConflict' });
    expect([...out.rrsets.keys()]).toEqual(['TXT']);
  });

  it('namespace selector refuses, and the refused record does not own the name', () => {
    const z = zoneObj('corp', 'corp.internal', { selector: { matchLabels: { publish: 'true' } } });
    const denied = recordObj('x', 'r', 'n.corp.internal', 'A', ['10.0.0.1'], { created: 1 });
    const allowed = recordObj('y', 'r', 'n.corp.internal', 'A', ['10.0.0.2'], { created: 2 });
    const labels = (ns: string): Record<string, string> | undefined => (ns === 'y' ? { publish: 'true' } : undefined);
    const out = evaluateName('n.corp.internal', [denied, allowed], z, labels, recordRdata);
    expect(out.verdicts.get('x/r')).toMatchObject({ accepted: false, reason: 'NamespaceNotAllowed' });
    expect(out.verdicts.get('y/r')?.accepted).toBe(true);
  });

  it('TXT values are the text itself, split at 255 octets', () => {
    const long = 'x'.repeat(300);
    const r = recordObj('a', 't', 't.corp.internal', 'TXT', ['hello world', long]);
    const out = evaluateName('t.corp.internal', [r], zone, noLabels, recordRdata);
    const data = (out.rrsets.get('TXT') ?? []).map((rr) => (rr.data as Buffer[]).map((b) => b.length));
    expect(data).toContainEqual([11]);
    expect(data).toContainEqual([255, 45]);
  });

  it('an unparsable value refuses the record', () => {
    const r = recordObj('a', 's', '_x._tcp.corp.internal', 'SRV', ['1 2 host']);
    const out = evaluateName('_x._tcp.corp.internal', [r], zone, noLabels, recordRdata);
    expect(out.verdicts.get('a/s')).toMatchObject({ accepted: false, reason: 'InvalidValue' });
  });
});

describe('resolveZones', () => {
  it('the oldest DNSZone for an origin wins', () => {
    const old = zoneObj('first', 'corp.internal', { created: 1 });
    const dup = zoneObj('second', 'corp.internal', { created: 2 });
    const { active, verdicts } = resolveZones([dup, old]);
    expect(active.get('corp.internal')?.meta.name).toBe('first');
    expect(verdicts.get('second')).toMatchObject({ accepted: false, reason: 'ZoneConflict' });
  });
});
