/**
 * Why the CRDs are templates and not the chart's crds/ directory, shown on a private control
 * plane (the shared one has the CRDs from crds/, not owned by any release): `helm upgrade`
 * upgrades a templated CRD, while Helm leaves a crds/ CRD as first installed; and with
 * crds.keep the CRDs (and so every DNSRecord) survive `helm uninstall`.
 */
import { cp as copy, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runKubectl } from '../controlplane/kubectl.js';
import { startControlPlane, type ControlPlane } from '../controlplane/controlplane.js';
import { waitFor } from '../util/wait.js';
import { chartDir, helm } from './helm.js';

const TITLE = '{.spec.versions[0].schema.openAPIV3Schema.title}';

describe('CRDs follow the release', () => {
  let cp: ControlPlane | undefined;
  let work = '';
  const kubectl = (args: readonly string[]): ReturnType<typeof runKubectl> => runKubectl({ kubeconfig: cp?.kubeconfig ?? '', assets: cp?.assets, args });

  beforeAll(async () => {
    cp = await startControlPlane({ crdsDir: null });
    work = await mkdtemp(join(tmpdir(), 'dnssync-crd-upgrade-'));
  });

  afterAll(async () => {
    await cp?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** A copy of the chart whose DNSRecord CRD carries `marker` as its schema's title. */
  async function chartVersion(name: string, marker: string, opts: { helmCrdsDir?: boolean } = {}): Promise<string> {
    const dir = join(work, name, 'dnssync');
    await copy(chartDir, dir, { recursive: true });
    const file = join(dir, 'files', 'crds', 'dnsrecords.dnssync.io.yaml');
    const text = await readFile(file, 'utf8');
    const marked = text.replace(/^(\s+)openAPIV3Schema:\n/m, (m, indent: string) => `${m}${indent}  title: ${marker}\n`);
    expect(marked, 'the CRD file layout changed: adjust this test').not.toBe(text);
    await writeFile(file, marked);
    if (opts.helmCrdsDir) {
      // The alternative this chart rejects: CRDs in crds/, which Helm installs once only.
      await copy(join(dir, 'files', 'crds'), join(dir, 'crds'), { recursive: true });
      await rm(join(dir, 'templates', 'crds.yaml'));
    }
    return dir;
  }

  it('templated CRDs are installed, upgraded and kept; crds/ ones are never upgraded', async () => {
    const kc = ['--kubeconfig', cp?.kubeconfig ?? '', '--namespace', 'dnssync', '--create-namespace'];
    const v1 = await chartVersion('v1', 'marker-one');
    const v2 = await chartVersion('v2', 'marker-two');

    const install = await helm(['install', 'dns', v1, ...kc]);
    expect(install.code, install.stderr).toBe(0);
    expect((await kubectl(['get', 'crd', 'dnsrecords.dnssync.io', '-o', `jsonpath=${TITLE}`])).stdout).toBe('marker-one');
    expect((await kubectl(['get', 'crd', 'dnszones.dnssync.io', '-o', 'jsonpath={.metadata.labels.app\\.kubernetes\\.io/managed-by}'])).stdout).toBe('Helm');

    const up = await helm(['upgrade', 'dns', v2, ...kc]);
    expect(up.code, up.stderr).toBe(0);
    expect((await kubectl(['get', 'crd', 'dnsrecords.dnssync.io', '-o', `jsonpath=${TITLE}`])).stdout).toBe('marker-two');

    const un = await helm(['uninstall', 'dns', '--kubeconfig', cp?.kubeconfig ?? '', '--namespace', 'dnssync']);
    expect(un.code, un.stderr).toBe(0);
    expect((await kubectl(['get', 'crd', 'dnsrecords.dnssync.io', '-o', `jsonpath=${TITLE}`])).stdout).toBe('marker-two');
    expect((await kubectl(['get', 'crd', 'dnszones.dnssync.io'])).code).toBe(0);
    const del = await kubectl(['delete', '--wait=true', 'crd', 'dnsrecords.dnssync.io', 'dnszones.dnssync.io']);
    expect(del.code, del.stderr).toBe(0);
    // Deletion finishes asynchronously (the CRD finalizer removes stored objects first).
    await waitFor(async () => (await kubectl(['get', 'crd', 'dnsrecords.dnssync.io', 'dnszones.dnssync.io'])).code !== 0, { timeoutMs: 60_000, what: 'CRDs deleted' });

    // The same two versions with Helm's crds/ directory: the upgrade leaves the old schema.
    const c1 = await chartVersion('c1', 'marker-one', { helmCrdsDir: true });
    const c2 = await chartVersion('c2', 'marker-two', { helmCrdsDir: true });
    const old = await helm(['install', 'old', c1, ...kc]);
    expect(old.code, old.stderr).toBe(0);
    expect((await kubectl(['get', 'crd', 'dnsrecords.dnssync.io', '-o', `jsonpath=${TITLE}`])).stdout).toBe('marker-one');
    const oldUp = await helm(['upgrade', 'old', c2, ...kc]);
    expect(oldUp.code, oldUp.stderr).toBe(0);
    expect((await kubectl(['get', 'crd', 'dnsrecords.dnssync.io', '-o', `jsonpath=${TITLE}`])).stdout).toBe('marker-one');
  }, 180_000);
});
