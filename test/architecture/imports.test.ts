// The import graph of src/ (non-test files): no file-level cycle, and folders import only the
// folders below them (ARCHITECTURE.md): cli → controller/agent → sync → zone → dns. Read from
// the source text, so a new upward arrow fails here before review has to spot it.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const src = join(root, 'src');

/** Which folders each folder of src/ may import (besides itself). */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  api: [],
  observability: [],
  dns: ['api'],
  zone: ['dns', 'api'],
  sync: ['zone', 'dns', 'api', 'observability'],
  k8s: ['api', 'observability'],
  'node-net': ['observability'],
  agent: ['sync', 'zone', 'dns', 'api', 'observability', 'node-net'],
  controller: ['k8s', 'sync', 'zone', 'dns', 'api', 'observability'],
  cli: ['agent', 'controller', 'k8s', 'node-net', 'sync', 'zone', 'dns', 'api', 'observability'],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [p] : [];
  });
}

/** Relative specifiers of static imports, re-exports and dynamic import() calls. */
export function importSpecifiers(text: string): string[] {
  const out: string[] = [];
  const re = /(?:^|[;\s])(?:import|export)\s[^'";]*?from\s*['"]([^'"]+)['"]|(?:^|[;\s])import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;
  for (const m of text.matchAll(re)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec !== undefined && spec.startsWith('.')) out.push(spec);
  }
  return out;
}

function folderOf(file: string): string {
  return relative(src, file).split('/')[0] ?? '';
}

const files = sourceFiles(src);
const graph = new Map<string, string[]>(
  files.map((f) => [f, importSpecifiers(readFileSync(f, 'utf8')).map((s) => resolve(dirname(f), s).replace(/\.js$/, '.ts'))]),
);

/** One cycle per strongly connected part, as a list of files (empty: none). */
export function findCycles(g: ReadonlyMap<string, readonly string[]>): string[][] {
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[][] = [];
  const stack: string[] = [];
  const visit = (n: string): void => {
    state.set(n, 'open');
    stack.push(n);
    for (const m of g.get(n) ?? []) {
      if (!g.has(m)) continue;
      const s = state.get(m);
      if (s === 'open') cycles.push(stack.slice(stack.indexOf(m)).concat(m));
      else if (s === undefined) visit(m);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of g.keys()) if (!state.has(n)) visit(n);
  return cycles;
}

describe('src/ import graph', () => {
  it('reads the files and their imports', () => {
    expect(files.length).toBeGreaterThan(100);
    // Every relative import names a file that exists (so the checks below see every arrow).
    const missing = [...graph].flatMap(([f, deps]) => deps.filter((d) => !graph.has(d) && d.startsWith(src)).map((d) => `${relative(root, f)} -> ${relative(root, d)}`));
    expect(missing).toEqual([]);
  });

  it('has only downward arrows between folders', () => {
    const bad: string[] = [];
    for (const [f, deps] of graph) {
      const from = folderOf(f);
      expect(ALLOWED[from], `src/${from} has no place in ALLOWED`).toBeDefined();
      for (const d of deps) {
        const rel = relative(src, d);
        if (rel.startsWith('..')) {
          bad.push(`${relative(root, f)} -> ${relative(root, d)} (outside src/)`);
          continue;
        }
        const to = folderOf(d);
        if (to !== from && !(ALLOWED[from] ?? []).includes(to)) bad.push(`${relative(root, f)} -> ${relative(root, d)}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('has no cycle between files', () => {
    expect(findCycles(graph).map((c) => c.map((f) => relative(src, f)).join(' -> '))).toEqual([]);
  });

  it('finds a cycle and parses every import form (the checks can fail)', () => {
    expect(findCycles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]))).toEqual([['a', 'b', 'c', 'a']]);
    expect(findCycles(new Map([['a', ['b']], ['b', []]]))).toEqual([]);
    const text = "import { x } from './a.js';\nimport type { Y } from '../b/c.js';\nexport * from './d.js';\nimport './e.js';\nconst m = await import('./f.js');\nimport z from 'node:fs';";
    expect(importSpecifiers(text)).toEqual(['./a.js', '../b/c.js', './d.js', './e.js', './f.js']);
  });
});
