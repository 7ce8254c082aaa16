import { describe, expect, it } from 'vitest';
import { buildSnapshot } from './snapshot.js';
import { ZoneError } from './errors.js';
import { rr, soa } from '../../test/util/zone-records.js';
import type { LookupResult } from './types.js';

const O = 'example.test';
const zone = buildSnapshot(O, [
  soa(O, 10, 30, 3600),
  rr(O, 'NS', `ns1.${O}`),
  rr(`ns1.${O}`, 'A', '192.0.2.53'),
  rr(O, 'MX', { preference: 10, exchange: `mail.${O}` }),
  rr(`mail.${O}`, 'A', '192.0.2.25'),
  rr(`mail.${O}`, 'AAAA', '2001:db8::25'),
  rr(`www.${O}`, 'A', '192.0.2.1'),
  rr(`www.${O}`, 'A', '192.0.2.2'),
  rr(`alias.${O}`, 'CNAME', `www.${O}`),
  rr(`alias2.${O}`, 'CNAME', `alias.${O}`),
  rr(`out.${O}`, 'CNAME', 'elsewhere.invalid'),
  rr(`dangling.${O}`, 'CNAME', `nothere.${O}`),
  rr(`loop1.${O}`, 'CNAME', `loop2.${O}`),
  rr(`loop2.${O}`, 'CNAME', `loop1.${O}`),
  rr(`a.b.c.${O}`, 'TXT', ['deep']),
  rr(`*.wild.${O}`, 'A', '192.0.2.99'),
  rr(`*.wild.${O}`, 'TXT', ['wild']),
  rr(`host.wild.${O}`, 'A', '192.0.2.100'),
  rr(`*.cn.${O}`, 'CNAME', `www.${O}`),
  rr(`sub.${O}`, 'NS', `ns.sub.${O}`),
  rr(`ns.sub.${O}`, 'A', '192.0.2.200'),
  rr(`_http._tcp.${O}`, 'SRV', { priority: 1, weight: 2, port: 80, target: `www.${O}` }),
  rr(`*.entwild.${O}`, 'A', '192.0.2.7'),
  rr(`x.*.ent2.${O}`, 'A', '192.0.2.8'),
]);

function names(rrs: readonly { name: string; type: string }[]): string[] {
  return rrs.map((r) => `${r.name}/${r.type}`);
}

function kind(r: LookupResult): string {
  return r.kind;
}

describe('buildSnapshot', () => {
  it('indexes the zone', () => {
    expect(zone.origin).toBe(O);
    expect(zone.serial).toBe(10);
    expect(zone.size).toBe(24);
    const all = [...zone.records()];
    expect(all[0]?.type).toBe('SOA');
    expect(all.length).toBe(24);
  });

  it('refuses zones without exactly one apex SOA', () => {
    expect(() => buildSnapshot(O, [rr(`www.${O}`, 'A', '192.0.2.1')])).toThrow(/no SOA/);
    expect(() => buildSnapshot(O, [soa(O, 1), { ...soa(O, 2) }])).toThrow(/more than one SOA/);
    expect(() => buildSnapshot(O, [soa(O, 1), rr(`x.${O}`, 'SOA', soa(O, 1).data)])).toThrow(/not at the apex/);
  });

  it('refuses out-of-zone names and CNAME beside data', () => {
    expect(() => buildSnapshot(O, [soa(O, 1), rr('www.other.test', 'A', '192.0.2.1')])).toThrow(ZoneError);
    expect(() => buildSnapshot(O, [soa(O, 1), rr(`notexample.test`, 'A', '192.0.2.1')])).toThrow(/outside the zone/);
    expect(() =>
      buildSnapshot(O, [soa(O, 1), rr(`x.${O}`, 'CNAME', `y.${O}`), rr(`x.${O}`, 'TXT', ['t'])]),
    ).toThrow(/x\.example\.test: CNAME beside other data \(TXT\)/);
    expect(() => buildSnapshot(O, [soa(O, 1), rr(O, 'CNAME', `y.${O}`)])).toThrow(/CNAME beside other data/);
    expect(() =>
      buildSnapshot(O, [soa(O, 1), rr(`x.${O}`, 'CNAME', `y.${O}`), rr(`x.${O}`, 'CNAME', `z.${O}`)]),
    ).toThrow(/more than one CNAME/);
  });

  it('drops exact duplicates and canonicalizes case', () => {
    const z = buildSnapshot('Example.TEST.', [soa(O, 1), rr(`WWW.${O}.`, 'A', '192.0.2.1'), rr(`www.${O}`, 'A', '192.0.2.1', 5)]);
    expect(z.origin).toBe(O);
    expect(z.size).toBe(2);
  });
});

describe('lookup', () => {
  it('answers exact matches, case-insensitively, with the additional targets', () => {
    const r = zone.lookup(`WWW.Example.Test.`, 'A');
    expect(r.kind).toBe('answer');
    if (r.kind !== 'answer') return;
    expect(r.answer.map((a) => a.data)).toEqual(['192.0.2.1', '192.0.2.2']);
    const mx = zone.lookup(O, 'MX');
    expect(mx.kind === 'answer' && names(mx.additional)).toEqual([`mail.${O}/A`, `mail.${O}/AAAA`]);
    const ns = zone.lookup(O, 'NS');
    expect(ns.kind === 'answer' && names(ns.additional)).toEqual([`ns1.${O}/A`]);
    const srv = zone.lookup(`_http._tcp.${O}`, 'SRV');
    expect(srv.kind === 'answer' && names(srv.additional)).toEqual([`www.${O}/A`, `www.${O}/A`]);
    const s = zone.lookup(O, 'SOA');
    expect(s.kind === 'answer' && s.answer[0]?.ttl).toBe(3600);
  });

  it('returns NODATA with the SOA at the negative TTL (RFC 2308)', () => {
    const r = zone.lookup(`www.${O}`, 'AAAA');
    expect(r.kind).toBe('nodata');
    if (r.kind !== 'nodata') return;
    expect(r.answer).toEqual([]);
    expect(names(r.authority)).toEqual([`${O}/SOA`]);
    expect(r.authority[0]?.ttl).toBe(30);
    expect(zone.soa.ttl).toBe(3600);
  });

  it('returns NXDOMAIN for names that do not exist', () => {
    const r = zone.lookup(`nope.${O}`, 'A');
    expect(r.kind).toBe('nxdomain');
    expect(r.kind === 'nxdomain' && names(r.authority)).toEqual([`${O}/SOA`]);
    expect(kind(zone.lookup(`x.nope.${O}`, 'A'))).toBe('nxdomain');
    expect(kind(zone.lookup(`x.a.b.c.${O}`, 'A'))).toBe('nxdomain');
  });

  it('answers NODATA, never NXDOMAIN, for empty non-terminals (RFC 8020)', () => {
    expect(kind(zone.lookup(`b.c.${O}`, 'A'))).toBe('nodata');
    expect(kind(zone.lookup(`c.${O}`, 'TXT'))).toBe('nodata');
    expect(kind(zone.lookup(`a.b.c.${O}`, 'TXT'))).toBe('answer');
  });

  it('follows in-zone CNAME chains, leading the answer', () => {
    const r = zone.lookup(`alias2.${O}`, 'A');
    expect(r.kind).toBe('answer');
    if (r.kind !== 'answer') return;
    expect(names(r.answer)).toEqual([`alias2.${O}/CNAME`, `alias.${O}/CNAME`, `www.${O}/A`, `www.${O}/A`]);
    const c = zone.lookup(`alias.${O}`, 'CNAME');
    expect(c.kind === 'answer' && names(c.answer)).toEqual([`alias.${O}/CNAME`]);
    const n = zone.lookup(`alias.${O}`, 'TXT');
    expect(n.kind).toBe('nodata');
    expect(n.kind === 'nodata' && names(n.answer)).toEqual([`alias.${O}/CNAME`]);
  });

  it('stops at out-of-zone targets, dangling targets and loops', () => {
    const out = zone.lookup(`out.${O}`, 'A');
    expect(out.kind === 'answer' && names(out.answer)).toEqual([`out.${O}/CNAME`]);
    const dang = zone.lookup(`dangling.${O}`, 'A');
    expect(dang.kind).toBe('nxdomain');
    expect(dang.kind === 'nxdomain' && names(dang.answer)).toEqual([`dangling.${O}/CNAME`]);
    const loop = zone.lookup(`loop1.${O}`, 'A');
    expect(loop.kind === 'answer' && names(loop.answer)).toEqual([`loop1.${O}/CNAME`, `loop2.${O}/CNAME`]);
  });

  it('synthesizes wildcard answers with the owner as asked (RFC 4592)', () => {
    const r = zone.lookup(`Foo.Wild.${O}`, 'A');
    expect(r.kind).toBe('answer');
    if (r.kind !== 'answer') return;
    expect(names(r.answer)).toEqual([`Foo.Wild.${O}/A`]);
    expect(r.answer[0]?.data).toBe('192.0.2.99');
    expect(kind(zone.lookup(`deep.er.wild.${O}`, 'A'))).toBe('answer');
    // The wildcard does not apply where the name exists.
    const h = zone.lookup(`host.wild.${O}`, 'TXT');
    expect(h.kind).toBe('nodata');
    const h2 = zone.lookup(`host.wild.${O}`, 'A');
    expect(h2.kind === 'answer' && h2.answer[0]?.data).toBe('192.0.2.100');
    // Name under an existing name: closest encloser is host.wild, which has no wildcard.
    expect(kind(zone.lookup(`x.host.wild.${O}`, 'A'))).toBe('nxdomain');
    // Wildcard with the type missing → NODATA; ANY → all types.
    expect(kind(zone.lookup(`q.wild.${O}`, 'MX'))).toBe('nodata');
    const any = zone.lookup(`q.wild.${O}`, 'ANY');
    expect(any.kind === 'answer' && names(any.answer).sort()).toEqual([`q.wild.${O}/A`, `q.wild.${O}/TXT`]);
    // The wildcard itself, asked literally.
    const lit = zone.lookup(`*.wild.${O}`, 'A');
    expect(lit.kind === 'answer' && lit.answer[0]?.name).toBe(`*.wild.${O}`);
    // The parent of the wildcard exists (ENT): NODATA.
    expect(kind(zone.lookup(`wild.${O}`, 'A'))).toBe('nodata');
  });

  it('follows wildcard CNAMEs and treats an empty-non-terminal wildcard as existing', () => {
    const r = zone.lookup(`z.cn.${O}`, 'A');
    expect(r.kind === 'answer' && names(r.answer)).toEqual([`z.cn.${O}/CNAME`, `www.${O}/A`, `www.${O}/A`]);
    expect(kind(zone.lookup(`q.ent2.${O}`, 'A'))).toBe('nodata');
  });

  it('refers below delegations with glue, including at the delegation point', () => {
    for (const q of [`sub.${O}`, `www.sub.${O}`, `ns.sub.${O}`, `a.b.sub.${O}`]) {
      const r = zone.lookup(q, 'A');
      expect(r.kind).toBe('referral');
      if (r.kind !== 'referral') return;
      expect(names(r.authority)).toEqual([`sub.${O}/NS`]);
      expect(names(r.additional)).toEqual([`ns.sub.${O}/A`]);
    }
  });

  it('refuses names outside the zone', () => {
    expect(() => zone.lookup('www.other.test', 'A')).toThrow(ZoneError);
  });

  it('answers ANY with every type at the name', () => {
    const r = zone.lookup(`mail.${O}`, 'ANY');
    expect(r.kind === 'answer' && names(r.answer)).toEqual([`mail.${O}/A`, `mail.${O}/AAAA`]);
  });

  it('works for the root zone and single-label zones', () => {
    const z = buildSnapshot('', [soa('', 1), rr('com', 'NS', 'a.gtld'), rr('a.gtld', 'A', '192.0.2.1'), rr('tld', 'TXT', ['x'])]);
    expect(kind(z.lookup('tld.', 'TXT'))).toBe('answer');
    expect(kind(z.lookup('www.example.com', 'A'))).toBe('referral');
    expect(kind(z.lookup('nope', 'A'))).toBe('nxdomain');
    const t = buildSnapshot('internal', [soa('internal', 1), rr('a.internal', 'A', '192.0.2.1')]);
    expect(kind(t.lookup('a.internal', 'A'))).toBe('answer');
    expect(kind(t.lookup('b.internal', 'A'))).toBe('nxdomain');
  });
});
