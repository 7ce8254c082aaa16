/**
 * The spec readers against the CRD schemas (crds/*.yaml): an object with every field the
 * schema defines comes out with every field, of the schema's type; one missing a required
 * field is dropped. A field added to a CRD and not read here fails this test.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCrds, repo, type Schema } from '../../test/api/gen-api-types.js';
import { decodeRecord, decodeZone, recordSpec, zoneSpec } from './decode.js';

const crds = loadCrds(join(repo, 'crds'));

function specSchema(kind: string): Schema {
  const s = crds.find((c) => c.spec.names.kind === kind)?.spec.versions[0]?.schema?.openAPIV3Schema?.properties?.spec;
  if (!s) throw new Error(`no spec schema for ${kind}`);
  return s;
}

/** A value for every property the schema defines (enums: their first member). */
function sample(s: Schema): unknown {
  const e = s.enum ?? s._enum;
  if (e !== undefined) return e[0];
  switch (s.type) {
    case 'object':
      if (s.properties) return Object.fromEntries(Object.entries(s.properties).map(([k, sub]) => [k, sample(sub)]));
      return { k: 'v' };
    case 'array':
      return [sample(s.items ?? { type: 'string' })];
    case 'integer':
      return 7;
    case 'boolean':
      return true;
    default:
      return s.type === 'string' ? (s.format === undefined ? 'sample.test' : 'x') : 'x';
  }
}

/** The paths of every property the schema defines, objects descended into. */
function paths(s: Schema, at = ''): string[] {
  return Object.entries(s.properties ?? {}).flatMap(([k, sub]) => [`${at}${k}`, ...(sub.type === 'object' && sub.properties ? paths(sub, `${at}${k}.`) : [])]);
}

function pathsOf(v: unknown, at = ''): string[] {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return [];
  return Object.entries(v).flatMap(([k, sub]) => [`${at}${k}`, ...(typeof sub === 'object' && sub !== null && !Array.isArray(sub) && k !== 'matchLabels' ? pathsOf(sub, `${at}${k}.`) : [])]);
}

const meta = { name: 'n', namespace: 'ns', uid: 'u', resourceVersion: '1', generation: 1 };

describe('decoding through the generated types', () => {
  for (const [kind, read] of [['DNSRecord', recordSpec], ['DNSZone', zoneSpec]] as const) {
    it(`${kind}: every field of the CRD's spec schema is read, with the schema's value`, () => {
      const schema = specSchema(kind);
      const spec = sample(schema);
      const got = read({ metadata: meta, spec });
      expect(pathsOf(got).sort()).toEqual(paths(schema).sort());
      expect(got).toEqual(spec);
    });

    it(`${kind}: an object without a required spec field is dropped`, () => {
      const schema = specSchema(kind);
      // The API server refuses such objects; a DNSRecord's values are read as [] if absent, as
      // they always were, and the reconciler reports an RRset with no values.
      const lenient = kind === 'DNSRecord' ? ['values'] : [];
      expect(schema.required?.length).toBeGreaterThan(0);
      for (const field of (schema.required ?? []).filter((f) => !lenient.includes(f))) {
        const spec = sample(schema) as Record<string, unknown>;
        delete spec[field];
        expect(read({ metadata: meta, spec }), field).toBeUndefined();
      }
    });
  }

  it('normalises: canonical names, defaults for what the spec leaves out', () => {
    expect(decodeRecord({ metadata: meta, spec: { name: 'WWW.Corp.Test.', type: 'A', values: ['192.0.2.1'] } })).toMatchObject({ owner: 'www.corp.test', type: 'A', ttl: undefined, values: ['192.0.2.1'] });
    expect(decodeRecord({ metadata: meta, spec: { name: 'a.test', type: 'SOA', values: [] } })).toBeUndefined();
    expect(decodeZone({ metadata: meta, spec: { zone: 'Corp.Test.' } })).toMatchObject({ origin: 'corp.test', defaultTTL: 30, soa: { refresh: 60, retry: 10, expire: 3600, negativeTTL: 5 }, selector: undefined });
  });
});
