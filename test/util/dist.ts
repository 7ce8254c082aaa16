/**
 * Tests that start the CLI run the compiled tree (dist/), so a test run after an edit but
 * before a build would test yesterday's code and pass or fail for the wrong reason. `make
 * build` writes dist/.build-stamp once tsc has succeeded; the tree is current when no
 * source of what they run (src/, and tsconfig.json) was modified after that stamp. Test
 * files run from source under vitest, so editing one needs no build.
 * Compiling from here instead would rewrite dist/ under other test files' processes.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { repoRoot } from '../controlplane/assets.js';

export const BUILD_STAMP = join(repoRoot, 'dist', '.build-stamp');

export class StaleBuildError extends Error {
  override readonly name = 'StaleBuildError';
}

/** The newest .ts file under `dir` (recursively) with its mtime in ms, if any. */
function newestSource(dir: string): { path: string; mtimeMs: number } | undefined {
  let best: { path: string; mtimeMs: number } | undefined;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    const found = e.isDirectory() ? newestSource(p) : e.name.endsWith('.ts') ? { path: p, mtimeMs: statSync(p).mtimeMs } : undefined;
    if (found && (!best || found.mtimeMs > best.mtimeMs)) best = found;
  }
  return best;
}

/** Why dist/ cannot be trusted (in words naming the file and the fix), or undefined. */
export function distProblem(root: string = repoRoot, stamp: string = join(root, 'dist', '.build-stamp')): string | undefined {
  let built: number;
  try {
    built = statSync(stamp).mtimeMs;
  } catch {
    return `${relative(root, stamp)} is missing: dist/ was not built by \`make build\` (run it first)`;
  }
  const sources = [newestSource(join(root, 'src')), { path: join(root, 'tsconfig.json'), mtimeMs: statSync(join(root, 'tsconfig.json')).mtimeMs }];
  for (const s of sources) {
    if (s && s.mtimeMs > built) return `dist/ is out of date: ${relative(root, s.path)} changed after the last \`make build\` (run it again)`;
  }
  return undefined;
}

/** Throws StaleBuildError unless dist/ was built by `make build` after the last source edit. */
export function requireCurrentDist(): void {
  const problem = distProblem();
  if (problem) throw new StaleBuildError(problem);
}
