/**
 * Why the CRDs are templates and not the chart's crds/ directory, shown on a private control
 * plane (the shared one has the CRDs from crds/, not owned by any release): Helm leaves a
 * crds/ CRD as first installed, while `helm upgrade` upgrades a templated one; existing CRDs
 * are adopted with Helm's ownership metadata; with crds.keep they (and so every DNSRecord)
 * survive `helm uninstall`.
 */
import { cp as copy, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runKubectl } from '../controlplane/kubectl.js';
import { startControlPlane, type ControlPlane } from '../controlplane/controlplane.js';
import { chartDir, helm, NO_CLUSTER } from './helm.js';

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

  it('crds/ CRDs are never upgraded; templated ones are adopted, upgraded and kept', async () => {
    const ns = ['--kubeconfig', cp?.kubeconfig ?? '', '--namespace', 'dnssync'];
    const kc = [...ns, '--create-namespace', ...NO_CLUSTER];
    const title = async (): Promise<string> => (await kubectl(['get', 'crd', 'dnsrecords.dnssync.io', '-o', `jsonpath=${TITLE}`])).stdout;
    const ok = (r: { code: number; stderr: string }): void => expect(r.code, r.stderr).toBe(0);

    // Helm's crds/ directory: installed once, then left as it was.
    ok(await helm(['install', 'old', await chartVersion('c1', 'marker-one', { helmCrdsDir: true }), ...kc]));
    expect(await title()).toBe('marker-one');
    ok(await helm(['upgrade', 'old', await chartVersion('c2', 'marker-two', { helmCrdsDir: true }), ...kc]));
    expect(await title()).toBe('marker-one');
    ok(await helm(['uninstall', 'old', ...ns]));
    expect(await title()).toBe('marker-one');

    // The documented way to hand existing CRDs to a release: Helm's ownership metadata.
    for (const crd of ['dnsrecords.dnssync.io', 'dnszones.dnssync.io']) {
      ok(await kubectl(['label', '--overwrite', 'crd', crd, 'app.kubernetes.io/managed-by=Helm']));
      ok(await kubectl(['annotate', '--overwrite', 'crd', crd, 'meta.helm.sh/release-name=dns', 'meta.helm.sh/release-namespace=dnssync']));
    }

    // This chart: CRDs are templates, so install and every upgrade apply them.
    ok(await helm(['install', 'dns', await chartVersion('v2', 'marker-two'), ...kc]));
    expect(await title()).toBe('marker-two');
    ok(await helm(['upgrade', 'dns', await chartVersion('v3', 'marker-three'), ...kc]));
    expect(await title()).toBe('marker-three');
    expect((await kubectl(['get', 'crd', 'dnszones.dnssync.io', '-o', 'jsonpath={.metadata.annotations.helm\\.sh/resource-policy}'])).stdout).toBe('keep');

    // crds.keep: uninstall leaves them (and with them every DNSZone and DNSRecord).
    const un = await helm(['uninstall', 'dns', ...ns]);
    ok(un);
    expect(un.stdout + un.stderr).toMatch(/kept due to the resource policy/);
    expect(await title()).toBe('marker-three');
    ok(await kubectl(['get', 'crd', 'dnszones.dnssync.io']));
  }, 180_000);
});
