/**
 * The chart's PrometheusRule on a real API server that serves the Prometheus Operator's own
 * PrometheusRule CRD (generated from the operator's Go API types by controller-gen, as its
 * release does: test/deploy/prometheus-crds.sh), with no operator running — what a cluster
 * with the operator installed validates. `helm install` with default values (`enabled: auto`)
 * sees the API and creates the rules, and the server keeps every field the chart wrote (a
 * structural schema prunes fields it does not know: pruning would silently drop alerts'
 * labels or annotations). The CRD's schema is shown to check something: a rule it must refuse.
 * Its own API server: the shared one has a stand-in CRD of the same name (cluster.test.ts).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../controlplane/assets.js';
import { ownControlPlane } from '../controlplane/own.js';
import { chartDir, find, helm, NO_CLUSTER, render, type K8sObject } from './helm.js';

const exec = promisify(execFile);
const cp = ownControlPlane();

interface RuleSpec {
  spec: { groups: { name: string; rules: Record<string, unknown>[] }[] };
}

describe('the PrometheusRule on an API server serving the operator\'s CRD', () => {
  beforeAll(async () => {
    // A cold generation builds controller-gen (about a minute); cached afterwards.
    const { stdout } = await exec('bash', [join(repoRoot, 'test', 'deploy', 'prometheus-crds.sh')], { timeout: 600_000, maxBuffer: 8 << 20 });
    const dir = stdout.trim().split('\n').pop() ?? '';
    const r = await cp.kubectl(['apply', '--server-side', '-f', join(dir, 'monitoring.coreos.com_prometheusrules.yaml')]);
    expect(r.code, r.stderr).toBe(0);
    const w = await cp.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/prometheusrules.monitoring.coreos.com']);
    expect(w.code, w.stderr).toBe(0);
  }, 660_000);

  it('helm install with default values creates it (auto), and the server keeps every rule field as rendered', async () => {
    const ns = 'monitoring-e2e';
    expect((await cp.kubectl(['create', 'namespace', ns])).code).toBe(0);
    const kc = ['--kubeconfig', cp.kubeconfig, '--namespace', ns];
    // The control plane has dnssync's CRDs already (from crds/, without Helm's ownership).
    const install = await helm(['install', 'rules', chartDir, ...kc, ...NO_CLUSTER, '--set', 'crds.enabled=false']);
    expect(install.code, install.stderr).toBe(0);
    const got = await cp.kubectl(['-n', ns, 'get', 'prometheusrules', '-o', 'json']);
    expect(got.code, got.stderr).toBe(0);
    const items = (JSON.parse(got.stdout) as { items: (K8sObject & RuleSpec)[] }).items;
    expect(items.map((i) => i.metadata.name)).toEqual(['rules-dnssync']);
    // What helm rendered for this cluster (it serves the API, so `auto` renders the rules).
    const { objects } = await render('defaults', { release: 'rules', namespace: ns, extra: ['--set', 'crds.enabled=false', '--api-versions', 'monitoring.coreos.com/v1/PrometheusRule'] });
    const rendered = find(objects, 'PrometheusRule') as K8sObject & RuleSpec;
    expect(rendered.spec.groups.flatMap((g) => g.rules).length).toBeGreaterThanOrEqual(9);
    expect(items[0]?.spec).toEqual(rendered.spec);
    const un = await helm(['uninstall', 'rules', ...kc]);
    expect(un.code, un.stderr).toBe(0);
  });

  it('the CRD refuses a rule it cannot run (a `for` that is not a Prometheus duration): the acceptance above means something', async () => {
    const { objects } = await render('defaults', { release: 'bad', namespace: 'default', extra: ['--set', 'metrics.prometheusRule.enabled=true'] });
    const rule = find(objects, 'PrometheusRule') as K8sObject & RuleSpec;
    const first = rule.spec.groups[0]?.rules[0] as Record<string, unknown>;
    first['for'] = '10 minutes';
    const r = await cp.kubectl(['apply', '--dry-run=server', '-f', '-'], JSON.stringify(rule));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/spec\.groups\[0\]\.rules\[0\]\.for: Invalid value: "10 minutes"/);
  });
});
