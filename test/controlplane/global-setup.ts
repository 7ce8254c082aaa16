/**
 * vitest global setup: ONE control plane for the whole run, shared by every test file.
 * Test files reach it through `sharedControlPlane()` (shared.ts), which reads what is
 * provided here; the same values are also in the environment (DNSSYNC_TEST_KUBECONFIG,
 * DNSSYNC_TEST_ASSETS) for child processes a test starts, e.g. `dnssync controller`.
 *
 * A suite that restarts etcd or kube-apiserver must not do it to this shared instance (other
 * files run against it concurrently): it starts its own with startControlPlane().
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startControlPlane, type ControlPlane } from './controlplane.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin kubeconfig of the shared control plane. */
    dnssyncKubeconfig: string;
    /** Directory with etcd, kube-apiserver, helm (and kubectl when built here). */
    dnssyncAssets: string;
    /** https://127.0.0.1:<port> of the shared API server. */
    dnssyncServer: string;
  }
}

/**
 * Every temporary file and directory of the run goes under one directory, removed at the end:
 * tests make zone files, state directories and server configs in os.tmpdir() and not all of
 * them clean up (a make test left ~2,000 directories in /tmp). Workers and the processes tests
 * start inherit TMPDIR, and os.tmpdir() reads it.
 */
function privateTmpdir(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'dnssync-test-'));
  // As /tmp: tests run processes as other users (the image's uid 65532) that must reach it.
  chmodSync(dir, 0o1777);
  process.env['TMPDIR'] = dir;
  return () => rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const removeTmp = privateTmpdir();
  // DNSSYNC_TEST_CONTROLPLANE=0 skips it for runs of files that need no API server (saves
  // ~3 s and two processes); sharedControlPlane() then fails with a message saying so.
  if (process.env['DNSSYNC_TEST_CONTROLPLANE'] === '0') {
    project.provide('dnssyncKubeconfig', '');
    project.provide('dnssyncAssets', '');
    project.provide('dnssyncServer', '');
    return async () => removeTmp();
  }
  const started = Date.now();
  const cp: ControlPlane = await startControlPlane();
  process.env['DNSSYNC_TEST_KUBECONFIG'] = cp.kubeconfig;
  process.env['DNSSYNC_TEST_ASSETS'] = cp.assets;
  project.provide('dnssyncKubeconfig', cp.kubeconfig);
  project.provide('dnssyncAssets', cp.assets);
  project.provide('dnssyncServer', cp.server);
  console.log(`[controlplane] ${cp.server} ready in ${Date.now() - started} ms (kubeconfig ${cp.kubeconfig})`);
  return async () => {
    await cp.stop();
    removeTmp();
  };
}
