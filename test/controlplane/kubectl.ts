import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { kubectlPath } from './assets.js';

export interface KubectlResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface KubectlOptions {
  readonly kubeconfig: string;
  /** Prefer the kubectl built beside the API server (same version). */
  readonly assets?: string;
  readonly args: readonly string[];
  /** Written to stdin, e.g. a manifest for `apply -f -`. */
  readonly input?: string | undefined;
  readonly timeoutMs?: number;
}

/**
 * Runs kubectl and returns its exit code and output; it never throws for a non-zero exit,
 * because tests assert on refusals. The discovery cache lives beside the kubeconfig, so runs
 * against different control planes (different ports) never read each other's cache.
 */
export function runKubectl(opts: KubectlOptions): Promise<KubectlResult> {
  const args = ['--kubeconfig', opts.kubeconfig, '--cache-dir', join(dirname(opts.kubeconfig), 'kubectl-cache'), ...opts.args];
  return new Promise((resolve, reject) => {
    const child = execFile(
      kubectlPath(opts.assets),
      args,
      { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        if (err && typeof err.code !== 'number') {
          reject(new Error(`kubectl ${opts.args.join(' ')}: ${err.message}`));
          return;
        }
        resolve({ code, stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}
