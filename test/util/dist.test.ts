import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { distProblem } from './dist.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A tree shaped like the repository, every file dated `t` seconds after the epoch. */
function tree(t: number): string {
  const root = mkdtempSync(join(tmpdir(), 'dnssync-dist-'));
  dirs.push(root);
  for (const d of ['src/cli', 'test/util', 'dist']) mkdirSync(join(root, d), { recursive: true });
  for (const f of ['src/cli/main.ts', 'test/util/x.ts', 'tsconfig.json']) {
    writeFileSync(join(root, f), '');
    utimesSync(join(root, f), t, t);
  }
  return root;
}

function stamp(root: string, t: number): void {
  writeFileSync(join(root, 'dist/.build-stamp'), '');
  utimesSync(join(root, 'dist/.build-stamp'), t, t);
}

describe('distProblem', () => {
  it('no stamp: not built by make build', () => {
    expect(distProblem(tree(1000))).toMatch(/dist\/\.build-stamp is missing.*make build/);
  });

  it('a stamp newer than every source: current', () => {
    const root = tree(1000);
    stamp(root, 1001);
    expect(distProblem(root)).toBeUndefined();
  });

  it('a test file edited after the stamp does not matter (vitest runs it from source)', () => {
    const root = tree(1000);
    stamp(root, 1001);
    utimesSync(join(root, 'test/util/x.ts'), 1002, 1002);
    expect(distProblem(root)).toBeUndefined();
  });

  it('a source edited after the stamp: names the file', () => {
    const root = tree(1000);
    stamp(root, 1001);
    utimesSync(join(root, 'src/cli/main.ts'), 1002, 1002);
    expect(distProblem(root)).toBe('dist/ is out of date: src/cli/main.ts changed after the last `make build` (run it again)');
  });
});
