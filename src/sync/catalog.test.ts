import { describe, expect, it } from 'vitest';
import { canonicalRR } from '../dns/rdata.js';
import { buildSnapshot } from '../zone/snapshot.js';
import { CATALOG_ORIGIN, CatalogError, catalogMembers, catalogRecords, isCatalog, memberLabel } from './catalog.js';

const soa = canonicalRR({ name: CATALOG_ORIGIN, type: 'SOA', ttl: 0, data: { mname: 'invalid', rname: 'invalid', serial: 1, refresh: 60, retry: 10, expire: 604800, minimum: 0 } });
const snap = (extra: ReturnType<typeof canonicalRR>[]): ReturnType<typeof buildSnapshot> => buildSnapshot(CATALOG_ORIGIN, [soa, ...extra]);

describe('catalog zone (RFC 9432)', () => {
  it('lists member zones as PTRs under zones., with version "2" and NS invalid., and reads them back', () => {
    const recs = catalogRecords(['corp.internal', 'B.Example.', CATALOG_ORIGIN]);
    expect(recs.find((r) => r.type === 'NS')?.data).toBe('invalid');
    expect(recs.filter((r) => r.type === 'PTR').map((r) => r.name)).toEqual([`${memberLabel('corp.internal')}.zones.${CATALOG_ORIGIN}`, `${memberLabel('b.example')}.zones.${CATALOG_ORIGIN}`]);
    expect([...catalogMembers(snap(recs))].sort()).toEqual(['b.example', 'corp.internal']);
    expect(memberLabel('B.example.')).toBe(memberLabel('b.example'));
    expect(isCatalog('Catalog.DNSSYNC.invalid.')).toBe(true);
  });

  it('an empty catalog lists nothing; unknown records are ignored', () => {
    const recs = [...catalogRecords([]), canonicalRR({ name: `group.x.zones.${CATALOG_ORIGIN}`, type: 'TXT', ttl: 0, data: [Buffer.from('g')] })];
    expect(catalogMembers(snap(recs)).size).toBe(0);
  });

  it('refuses a catalog of another schema version or with a member of two PTRs', () => {
    const v1 = [canonicalRR({ name: `version.${CATALOG_ORIGIN}`, type: 'TXT', ttl: 0, data: [Buffer.from('1')] })];
    expect(() => catalogMembers(snap(v1))).toThrow(CatalogError);
    expect(() => catalogMembers(snap([]))).toThrow(/missing/);
    const two = [...catalogRecords(['a.test']), canonicalRR({ name: `${memberLabel('a.test')}.zones.${CATALOG_ORIGIN}`, type: 'PTR', ttl: 0, data: 'b.test' })];
    expect(() => catalogMembers(snap(two))).toThrow(/2 PTR/);
  });
});
