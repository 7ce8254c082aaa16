/**
 * Generates src/api/types.ts from the CRDs in crds/, so the CRD schema is the one source of
 * truth for the TypeScript types: every field, whether it is optional, every enum, and every
 * description (as JSDoc). test/api/types.test.ts fails when the checked-in file differs from
 * what this produces; `make api-types` rewrites it.
 *
 * One self-contained file (no relative imports) so Node runs it directly, stripping types:
 *   node test/api/gen-api-types.ts        # writes src/api/types.ts
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAllYaml } from '@kubernetes/client-node';

/** The part of a JSON schema this generator reads. */
export interface Schema {
  type?: string;
  description?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  additionalProperties?: Schema | boolean;
  enum?: unknown[];
  /** client-node renames `enum` to `_enum` where it deserialises to its model. */
  _enum?: unknown[];
  format?: string;
}

export interface Crd {
  kind: string;
  spec: {
    names: { kind: string; listKind?: string; plural: string };
    group: string;
    scope: string;
    versions: { name: string; storage?: boolean; schema?: { openAPIV3Schema?: Schema } }[];
  };
}

export class GenerateError extends Error {
  override readonly name = 'GenerateError';
}

/** Names for nested objects and enums that read better than their path. */
const NAMES: Record<string, string> = {
  'DNSRecord.spec': 'DNSRecordSpec',
  'DNSRecord.spec.type': 'RecordType',
  'DNSRecord.status': 'DNSRecordStatus',
  'DNSRecord.status.conditions[]': 'Condition',
  'DNSRecord.status.conditions[].status': 'ConditionStatus',
  'DNSZone.spec': 'DNSZoneSpec',
  'DNSZone.spec.soa': 'SOATimers',
  'DNSZone.spec.namespaceSelector': 'LabelSelector',
  'DNSZone.spec.namespaceSelector.matchExpressions[]': 'LabelSelectorRequirement',
  'DNSZone.spec.namespaceSelector.matchExpressions[].operator': 'LabelSelectorOperator',
  'DNSZone.status': 'DNSZoneStatus',
  'DNSZone.status.conditions[]': 'Condition',
  'DNSZone.status.conditions[].status': 'ConditionStatus',
};

/** Enums that also get a runtime array (`RECORD_TYPES`), for code that must check a value. */
const ENUM_CONSTS: Record<string, string> = { RecordType: 'RECORD_TYPES' };

function enumOf(s: Schema): unknown[] | undefined {
  return s.enum ?? s._enum;
}

function pascal(path: string): string {
  return path
    .replace(/\[\]/g, 'Item')
    .split('.')
    .map((p) => p.charAt(0).toUpperCase() + p.slice(1))
    .join('');
}

function doc(description: string | undefined, indent: string): string {
  if (!description) return '';
  const text = description.trim().replace(/\*\//g, '*\\/');
  const lines = wrap(text, 96 - indent.length - 3);
  return `${indent}/**\n${lines.map((l) => `${indent} * ${l}`.trimEnd()).join('\n')}\n${indent} */\n`;
}

function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  for (const para of text.split('\n')) {
    let line = '';
    for (const word of para.split(/\s+/).filter(Boolean)) {
      if (line && line.length + 1 + word.length > width) {
        out.push(line);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    out.push(line);
  }
  return out;
}

class Generator {
  private readonly decls = new Map<string, { body: string; order: number }>();
  private order = 0;

  /** Registers a named declaration; the same name twice must mean the same thing. */
  private define(name: string, body: string): void {
    const prev = this.decls.get(name);
    if (prev && prev.body !== body) throw new GenerateError(`two different shapes are both named ${name}`);
    if (!prev) this.decls.set(name, { body, order: this.order++ });
  }

  /** The TypeScript type of schema `s` at `path`, declaring named types as it goes. */
  typeOf(s: Schema, path: string): string {
    const values = enumOf(s);
    if (values) {
      const union = values.map((v) => JSON.stringify(v)).join(' | ');
      const name = NAMES[path];
      if (!name) return union;
      const constName = ENUM_CONSTS[name];
      const body = constName
        ? `${doc(s.description, '')}export const ${constName} = [${values.map((v) => JSON.stringify(v)).join(', ')}] as const;\n` +
          `${doc(s.description, '')}export type ${name} = (typeof ${constName})[number];\n`
        : `${doc(s.description, '')}export type ${name} = ${union};\n`;
      this.define(name, body);
      return name;
    }
    switch (s.type) {
      case 'string':
        return 'string';
      case 'integer':
      case 'number':
        return 'number';
      case 'boolean':
        return 'boolean';
      case 'array':
        if (!s.items) throw new GenerateError(`${path}: array without items`);
        return `${this.wrapArray(this.typeOf(s.items, `${path}[]`))}[]`;
      case 'object':
        if (s.properties) return this.object(s, path);
        if (s.additionalProperties && typeof s.additionalProperties === 'object') {
          return `Record<string, ${this.typeOf(s.additionalProperties, `${path}{}`)}>`;
        }
        return 'Record<string, unknown>';
      default:
        throw new GenerateError(`${path}: unsupported schema type ${String(s.type)}`);
    }
  }

  private wrapArray(t: string): string {
    return /[ |]/.test(t) ? `(${t})` : t;
  }

  private object(s: Schema, path: string): string {
    const name = NAMES[path] ?? pascal(path);
    const required = new Set(s.required ?? []);
    const fields = Object.entries(s.properties ?? {})
      .map(([key, sub]) => {
        const t = this.typeOf(sub, `${path}.${key}`);
        return `${doc(sub.description, '  ')}  ${key}${required.has(key) ? '' : '?'}: ${t};\n`;
      })
      .join('');
    this.define(name, `${doc(s.description, '')}export interface ${name} {\n${fields}}\n`);
    return name;
  }

  /** The top-level kind: apiVersion/kind literals, our ObjectMeta, spec and status. */
  kind(crd: Crd): void {
    const { kind, listKind, plural } = crd.spec.names;
    const v = crd.spec.versions.find((x) => x.storage) ?? crd.spec.versions[0];
    const root = v?.schema?.openAPIV3Schema;
    if (!v || !root?.properties) throw new GenerateError(`${kind}: no schema`);
    const apiVersion = `${crd.spec.group}/${v.name}`;
    const required = new Set(root.required ?? []);
    const fields = ['spec', 'status']
      .filter((k) => root.properties?.[k])
      .map((k) => {
        const sub = root.properties?.[k] as Schema;
        return `${doc(sub.description, '  ')}  ${k}${required.has(k) ? '' : '?'}: ${this.typeOf(sub, `${kind}.${k}`)};\n`;
      })
      .join('');
    const namespaced = crd.spec.scope === 'Namespaced';
    this.define(
      kind,
      `${doc(root.description, '')}export interface ${kind} {\n  apiVersion: '${apiVersion}';\n  kind: '${kind}';\n` +
        `  metadata: ObjectMeta;\n${fields}}\n` +
        `export const ${kind}Resource = { group: '${crd.spec.group}', version: '${v.name}', plural: '${plural}', ` +
        `kind: '${kind}', namespaced: ${namespaced} } as const;\n`,
    );
    const list = listKind ?? `${kind}List`;
    this.define(list, `export interface ${list} {\n  apiVersion: '${apiVersion}';\n  kind: '${list}';\n  metadata: ListMeta;\n  items: ${kind}[];\n}\n`);
  }

  render(): string {
    const header =
      '// Generated from crds/*.yaml by `make api-types` (test/api/gen-api-types.ts): do not edit.\n' +
      '// test/api/types.test.ts fails when this file and the CRDs disagree.\n\n' +
      '/** The metadata fields dnssync reads; raw API JSON, so timestamps are strings. */\n' +
      'export interface ObjectMeta {\n  name?: string;\n  namespace?: string;\n  uid?: string;\n  resourceVersion?: string;\n' +
      '  generation?: number;\n  creationTimestamp?: string;\n  deletionTimestamp?: string;\n' +
      '  labels?: Record<string, string>;\n  annotations?: Record<string, string>;\n}\n\n' +
      'export interface ListMeta {\n  resourceVersion?: string;\n  continue?: string;\n}\n';
    const body = [...this.decls.values()].sort((a, b) => a.order - b.order).map((d) => d.body);
    return [header, ...body].join('\n');
  }
}

export function generateApiTypes(crds: readonly Crd[]): string {
  const g = new Generator();
  for (const crd of [...crds].sort((a, b) => a.spec.names.kind.localeCompare(b.spec.names.kind))) g.kind(crd);
  return g.render();
}

export function loadCrds(dir: string): Crd[] {
  const out: Crd[] = [];
  for (const f of readdirSync(dir).filter((x) => /\.ya?ml$/.test(x)).sort()) {
    for (const d of loadAllYaml(readFileSync(join(dir, f), 'utf8')) as unknown[]) {
      if (typeof d === 'object' && d !== null && (d as { kind?: unknown }).kind === 'CustomResourceDefinition') out.push(d as Crd);
    }
  }
  return out;
}

const here = dirname(fileURLToPath(import.meta.url));
export const repo = join(here, '..', '..');
export const typesFile = join(repo, 'src', 'api', 'types.ts');

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(typesFile, generateApiTypes(loadCrds(join(repo, 'crds'))));
  console.log(`[api-types] wrote ${typesFile}`);
}
