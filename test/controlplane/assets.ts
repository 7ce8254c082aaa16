import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export class AssetsError extends Error {
  override readonly name = 'AssetsError';
}

const up2 = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
// Compiled copies live in dist/test/controlplane; both resolve to the repository's own files.
export const repoRoot = basename(up2) === 'dist' ? dirname(up2) : up2;
const root = repoRoot;
export const buildScript = join(root, 'test', 'controlplane', 'build.sh');
export const crdsDir = join(root, 'crds');

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function hasServerBinaries(dir: string): boolean {
  return executable(join(dir, 'etcd')) && executable(join(dir, 'kube-apiserver'));
}

/**
 * The directory holding etcd, kube-apiserver (and helm, and kubectl when built here):
 * KUBEBUILDER_ASSETS when set, else the build cache as `make controlplane` leaves it. It never
 * builds: a build takes minutes and belongs to `make controlplane`, not to a test hook.
 */
export async function findAssets(): Promise<string> {
  const env = process.env['KUBEBUILDER_ASSETS'];
  if (env) {
    if (hasServerBinaries(env)) return env;
    throw new AssetsError(`KUBEBUILDER_ASSETS=${env} lacks etcd or kube-apiserver`);
  }
  try {
    const { stdout } = await run('bash', [buildScript, '--no-build']);
    const dir = stdout.trim().split('\n').pop() ?? '';
    if (hasServerBinaries(dir)) return dir;
  } catch {
    // Fall through to the message below.
  }
  throw new AssetsError('no kube-apiserver/etcd found: run `make controlplane` or set KUBEBUILDER_ASSETS');
}

/**
 * DNSSYNC_KUBECTL when set (to test another client version), else kubectl from the assets
 * directory when it was built there (the API server's version), else the one on PATH.
 */
export function kubectlPath(assets: string | undefined): string {
  const override = process.env['DNSSYNC_KUBECTL'];
  if (override) return override;
  if (assets && executable(join(assets, 'kubectl'))) return join(assets, 'kubectl');
  return 'kubectl';
}
