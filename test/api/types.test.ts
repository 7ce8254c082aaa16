/**
 * One source of truth: crds/ defines the API; src/api/types.ts is generated from it and must
 * be current, and the record types the DNS layer knows must be exactly the CRD's enum. Also
 * the schema hygiene that `kubectl explain` depends on: every field has a description.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { RECORD_TYPES as DNS_RECORD_TYPES } from '../../src/dns/rr.js';
import { RECORD_TYPES, type DNSRecord, type DNSRecordSpec, type DNSZoneSpec } from '../../src/api/types.js';
import { generateApiTypes, loadCrds, repo, typesFile, type Schema } from './gen-api-types.js';

const crds = loadCrds(join(repo, 'crds'));

function schemaOf(kind: string): Schema {
  const crd = crds.find((c) => c.spec.names.kind === kind);
  const s = crd?.spec.versions[0]?.schema?.openAPIV3Schema;
  if (!s) throw new Error(`no schema for ${kind}`);
  return s;
}

/** Every property path under `s` whose schema lacks a description. */
function undescribed(s: Schema, path: string): string[] {
  const out: string[] = [];
  for (const [k, sub] of Object.entries(s.properties ?? {})) {
    const p = `${path}.${k}`;
    if (k !== 'metadata' && !sub.description) out.push(p);
    out.push(...undescribed(sub, p));
    if (sub.items) out.push(...undescribed(sub.items, `${p}[]`));
  }
  return out;
}

describe('API types and CRDs agree', () => {
  it('finds both CRDs', () => {
    expect(crds.map((c) => c.spec.names.kind).sort()).toEqual(['DNSRecord', 'DNSZone']);
  });

  it('src/api/types.ts is what crds/ generates (run `make api-types` after editing a CRD)', () => {
    expect(readFileSync(typesFile, 'utf8')).toBe(generateApiTypes(crds));
  });

  it('the record types of the DNS layer are exactly the CRD enum, in order', () => {
    expect([...DNS_RECORD_TYPES]).toEqual([...RECORD_TYPES]);
  });

  it('required spec fields are required in the types, optional ones optional', () => {
    expect(schemaOf('DNSRecord').properties?.['spec']?.required?.sort()).toEqual(['name', 'type', 'values']);
    expectTypeOf<DNSRecordSpec>().toEqualTypeOf<{ name: string; type: (typeof RECORD_TYPES)[number]; ttl?: number; values: string[] }>();
    expectTypeOf<DNSZoneSpec['zone']>().toEqualTypeOf<string>();
    expectTypeOf<DNSRecord['status']>().toEqualTypeOf<DNSRecord['status'] | undefined>();
  });

  it.each(['DNSRecord', 'DNSZone'])('every field of %s has a description (kubectl explain teaches the API)', (kind) => {
    const s = schemaOf(kind);
    expect(s.description).toBeTruthy();
    expect(undescribed(s, kind)).toEqual([]);
  });

  it('every array and string that CEL reads is bounded (the cost estimator needs maxItems/maxLength)', () => {
    const rec = schemaOf('DNSRecord').properties?.['spec'];
    const values = rec?.properties?.['values'] as Schema & { maxItems?: number; items?: Schema & { maxLength?: number } };
    expect(values.maxItems).toBe(100);
    expect(values.items?.maxLength).toBe(2048);
    expect((rec?.properties?.['name'] as { maxLength?: number }).maxLength).toBe(254);
  });
});
