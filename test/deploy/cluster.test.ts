/**
 * The chart against the real API server of the shared test control plane: every object of
 * every value set accepted by a server-side dry run, the RBAC checked with
 * `kubectl auth can-i --as=system:serviceaccount:…` after applying it for real, and a real
 * `helm install` / `upgrade` / `uninstall` keeping the TSIG key.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedControlPlane, uniqueNamespace } from '../controlplane/shared.js';
import { waitFor } from '../util/wait.js';
import { chartDir, find, helm, NO_CLUSTER, parseObjects, render, VALUE_SETS, type K8sObject, type ValueSet } from './helm.js';

const cp = sharedControlPlane();
const kubectl = cp.kubectl;

async function createNamespace(prefix: string): Promise<string> {
  const ns = uniqueNamespace(prefix);
  const r = await kubectl(['create', 'namespace', ns]);
  expect(r.code, r.stderr).toBe(0);
  return ns;
}

/** Split `helm template` output into documents, keeping each one's text as helm wrote it. */
function documents(yaml: string): { kind: string; text: string }[] {
  return yaml
    .split(/^---\s*$/m)
    .map((text) => ({ kind: /^kind:\s*(\S+)/m.exec(text)?.[1] ?? '', text }))
    .filter((d) => d.kind !== '');
}

describe('server-side dry run of every value set', () => {
  const monitoringCrds = ['servicemonitor-crd.yaml', 'prometheusrule-crd.yaml'].map((f) => join(import.meta.dirname, 'fixtures', f));

  beforeAll(async () => {
    // The monitoring value set renders ServiceMonitors and a PrometheusRule; the test API
    // server needs their CRDs.
    for (const crd of monitoringCrds) {
      const r = await kubectl(['apply', '-f', crd]);
      expect(r.code, r.stderr).toBe(0);
    }
    const w = await kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/servicemonitors.monitoring.coreos.com', 'crd/prometheusrules.monitoring.coreos.com']);
    expect(w.code, w.stderr).toBe(0);
  });

  afterAll(async () => {
    for (const crd of monitoringCrds) await kubectl(['delete', '--ignore-not-found', '-f', crd]);
  });

  it.each(VALUE_SETS.map((s) => [s]))('%s: every object is accepted', async (set: ValueSet) => {
    const ns = await createNamespace(`deploy-${set}`);
    const { yaml, objects } = await render(set, { namespace: ns, release: 'dry' });
    expect(objects.length).toBeGreaterThan(8);
    // Server-side apply: the API server validates every field strictly (unknown fields are
    // errors), runs admission (priority classes must exist) and defaulting, and stores nothing.
    const r = await kubectl(['apply', '--dry-run=server', '--server-side', '--force-conflicts', '--field-manager=dnssync-chart-test', '-o', 'name', '-f', '-'], yaml);
    expect(r.code, r.stderr).toBe(0);
    const accepted = r.stdout.trim().split('\n').filter((l) => l !== '');
    expect(accepted).toHaveLength(objects.length);
    for (const o of objects) {
      expect(accepted.some((a) => a.endsWith(`/${o.metadata.name}`) && a.toLowerCase().startsWith(o.kind.toLowerCase())), `${o.kind}/${o.metadata.name}`).toBe(true);
    }
  });
});

describe('Pod Security admission', () => {
  it('the controller meets the restricted standard; the agent breaks it only by the host network and its node networking (root, NET_ADMIN/NET_RAW, host paths)', async () => {
    const ns = await createNamespace('deploy-psa');
    const label = await kubectl(['label', 'namespace', ns, 'pod-security.kubernetes.io/warn=restricted', 'pod-security.kubernetes.io/warn-version=latest']);
    expect(label.code, label.stderr).toBe(0);
    const { yaml } = await render('defaults', { namespace: ns, release: 'psa' });
    const docs = documents(yaml);
    const dryRun = async (kind: string): Promise<string> => {
      const r = await kubectl(['apply', '--dry-run=server', '-f', '-'], docs.filter((d) => d.kind === kind).map((d) => d.text).join('\n---\n'));
      expect(r.code, r.stderr).toBe(0);
      return r.stderr;
    };
    expect(await dryRun('Deployment')).not.toMatch(/PodSecurity/);
    const agent = await dryRun('DaemonSet');
    const violations = /would violate PodSecurity "restricted:latest": (.*)/.exec(agent)?.[1] ?? '';
    // Each violation is "<check> (<detail>)"; split at the commas between them.
    const checks = violations.split(/\),\s*/).map((v) => v.replace(/\s*\(.*$/, '').trim()).filter((v) => v !== '');
    expect(checks.length).toBeGreaterThan(0);
    // Node networking (values.yaml agent.nodeNetwork) needs root with NET_ADMIN and NET_RAW,
    // the xtables lock and the hand-over directory on the host; nothing else may show up.
    const allowed = ['host namespaces', 'hostPath volumes', 'restricted volume types', 'unrestricted capabilities', 'runAsNonRoot != true', 'runAsUser=0'];
    expect(checks.filter((c) => !allowed.includes(c)), violations).toEqual([]);
    expect(checks).toContain('host namespaces');
  });
});

describe('RBAC, applied for real and checked with kubectl auth can-i', () => {
  let ns = '';
  let other = '';
  let controller = '';
  let agent = '';
  const release = `rbac-${Math.random().toString(36).slice(2, 7)}`;
  let clusterScoped: string[] = [];

  beforeAll(async () => {
    ns = await createNamespace('deploy-rbac');
    other = await createNamespace('deploy-rbac-other');
    const { yaml } = await render('defaults', { namespace: ns, release });
    const rbac = documents(yaml).filter((d) => ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'].includes(d.kind));
    expect(rbac.length).toBeGreaterThanOrEqual(8);
    const r = await kubectl(['apply', '-f', '-'], rbac.map((d) => d.text).join('\n---\n'));
    expect(r.code, r.stderr).toBe(0);
    const objects = parseObjects(yaml);
    controller = `system:serviceaccount:${ns}:${objects.find((o) => o.kind === 'ServiceAccount' && o.metadata.name.endsWith('-controller'))?.metadata.name}`;
    agent = `system:serviceaccount:${ns}:${objects.find((o) => o.kind === 'ServiceAccount' && o.metadata.name.endsWith('-agent'))?.metadata.name}`;
    clusterScoped = objects.filter((o) => o.kind.startsWith('Cluster')).map((o) => `${o.kind.toLowerCase()}/${o.metadata.name}`);
  });

  afterAll(async () => {
    if (clusterScoped.length > 0) await kubectl(['delete', '--ignore-not-found', ...clusterScoped]);
  });

  /** [verb, resource, namespace ('' = cluster-wide/all), extra flags] */
  type Check = readonly [string, string, string, ...string[]];

  async function canI(as: string, [verb, resource, namespace, ...flags]: Check): Promise<boolean> {
    const where = namespace === '' ? ['--all-namespaces'] : ['-n', namespace];
    const r = await kubectl(['auth', 'can-i', verb, resource, ...where, ...flags, `--as=${as}`]);
    if (r.stdout.trim() !== 'yes' && r.stdout.trim() !== 'no') throw new Error(`can-i ${verb} ${resource}: ${r.stdout}${r.stderr}`);
    return r.stdout.trim() === 'yes';
  }

  async function answers(as: string, checks: readonly Check[]): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < checks.length; i += 6) {
      const batch = checks.slice(i, i + 6);
      const got = await Promise.all(batch.map((c) => canI(as, c)));
      batch.forEach((c, j) => out.push(`${got[j] ? 'yes' : 'no'}: ${c.join(' ')}`));
    }
    return out;
  }

  it('the controller may do what it needs', async () => {
    const needs: Check[] = [
      ['list', 'dnszones.dnssync.io', ''],
      ['watch', 'dnszones.dnssync.io', ''],
      ['get', 'dnszones.dnssync.io', ''],
      ['list', 'dnsrecords.dnssync.io', ''],
      ['watch', 'dnsrecords.dnssync.io', ''],
      ['patch', 'dnsrecords.dnssync.io', other, '--subresource=status'],
      ['update', 'dnsrecords.dnssync.io', other, '--subresource=status'],
      ['patch', 'dnszones.dnssync.io', '', '--subresource=status'],
      ['list', 'namespaces', ''],
      ['watch', 'namespaces', ''],
      ['list', 'pods', ns],
      ['watch', 'pods', ns],
      ['create', 'events', other],
      ['create', 'events', 'default'],
      ['create', 'leases.coordination.k8s.io', ns],
      ['get', 'leases.coordination.k8s.io/dnssync-controller', ns],
      ['update', 'leases.coordination.k8s.io/dnssync-controller', ns],
    ];
    const got = await answers(controller, needs);
    expect(got.filter((a) => a.startsWith('no'))).toEqual([]);
  });

  it('the controller may not do anything else', async () => {
    const forbidden: Check[] = [
      ['get', 'secrets', 'kube-system'],
      ['list', 'secrets', ''],
      ['get', 'secrets', ns],
      ['update', 'dnsrecords.dnssync.io', other],
      ['patch', 'dnsrecords.dnssync.io', other],
      ['create', 'dnsrecords.dnssync.io', other],
      ['delete', 'dnsrecords.dnssync.io', other],
      ['update', 'dnszones.dnssync.io', ''],
      ['create', 'dnszones.dnssync.io', ''],
      ['delete', 'dnszones.dnssync.io', ''],
      ['deletecollection', 'dnsrecords.dnssync.io', other],
      ['create', 'pods', ns],
      ['delete', 'pods', ns],
      ['list', 'pods', other],
      ['list', 'pods', ''],
      ['create', 'pods/exec', ns],
      ['get', 'leases.coordination.k8s.io/some-other-lease', ns],
      ['update', 'leases.coordination.k8s.io/kube-controller-manager', 'kube-system'],
      ['create', 'leases.coordination.k8s.io', other],
      ['delete', 'leases.coordination.k8s.io/dnssync-controller', ns],
      ['get', 'configmaps', ns],
      ['update', 'namespaces', ''],
      ['delete', 'events', other],
      ['create', 'customresourcedefinitions.apiextensions.k8s.io', ''],
      ['create', 'clusterrolebindings.rbac.authorization.k8s.io', ''],
      ['impersonate', 'serviceaccounts', ns],
      ['create', 'serviceaccounts/token', ns],
      ['get', 'nodes', ''],
    ];
    const got = await answers(controller, forbidden);
    expect(got.filter((a) => a.startsWith('yes'))).toEqual([]);
  });

  it('the agent can do nothing: its rights equal those of an account nobody bound anything to', async () => {
    const list = async (as: string, namespace: string): Promise<string> => {
      const r = await kubectl(['auth', 'can-i', '--list', '-n', namespace, `--as=${as}`]);
      expect(r.code, r.stderr).toBe(0);
      return r.stdout;
    };
    const stranger = `system:serviceaccount:${ns}:never-bound-${Math.random().toString(36).slice(2, 7)}`;
    for (const where of [ns, other, 'kube-system']) expect(await list(agent, where)).toBe(await list(stranger, where));
    const got = await answers(agent, [
      ['get', 'pods', ns],
      ['list', 'dnsrecords.dnssync.io', ''],
      ['list', 'dnszones.dnssync.io', ''],
      ['get', 'secrets', ns],
      ['get', 'leases.coordination.k8s.io/dnssync-controller', ns],
      ['create', 'events', ns],
      ['get', 'configmaps', ns],
      ['get', 'nodes', ''],
    ]);
    expect(got.filter((a) => a.startsWith('yes'))).toEqual([]);
    // The check above would pass for a controller that was never bound too: make sure the
    // same tooling says yes where the controller is allowed.
    expect(await canI(controller, ['list', 'dnsrecords.dnssync.io', ''])).toBe(true);
  });
});

describe('helm install, upgrade and uninstall', () => {
  it('the TSIG key is generated once, survives upgrades, and is kept on uninstall', async () => {
    const ns = await createNamespace('deploy-helm');
    const release = `rel-${Math.random().toString(36).slice(2, 7)}`;
    const kc = ['--kubeconfig', cp.kubeconfig, '--namespace', ns];
    // The shared control plane already has the CRDs (from crds/, without Helm's ownership).
    const install = await helm(['install', release, chartDir, ...kc, ...NO_CLUSTER, '--set', 'crds.enabled=false']);
    expect(install.code, install.stderr).toBe(0);
    expect(install.stdout).toMatch(/Pods use the agents already \(transparent mode\): each agent answers on the kube-dns\s+ClusterIP 10\.96\.0\.10/);
    const secretName = `${release}-dnssync-tsig`;
    const key = async (): Promise<string> => {
      const r = await kubectl(['get', 'secret', secretName, '-n', ns, '-o', 'jsonpath={.data.tsig\\.key}']);
      expect(r.code, r.stderr).toBe(0);
      return Buffer.from(r.stdout, 'base64').toString('utf8');
    };
    const first = await key();
    expect(first).toMatch(/^key "dnssync" \{\n\talgorithm hmac-sha256;\n\tsecret "[A-Za-z0-9+/]{43}=";\n\};\n$/);

    const upgrade = await helm(['upgrade', release, chartDir, ...kc, '--reuse-values', '--set', 'logLevel=debug']);
    expect(upgrade.code, upgrade.stderr).toBe(0);
    expect(await key()).toBe(first);
    const env = await kubectl(['get', 'deployment', `${release}-dnssync-controller`, '-n', ns, '-o', 'jsonpath={.spec.template.spec.containers[0].env[?(@.name=="DNSSYNC_LOG_LEVEL")].value}']);
    expect(env.stdout).toBe('debug');

    const uninstall = await helm(['uninstall', release, ...kc]);
    expect(uninstall.code, uninstall.stderr).toBe(0);
    expect(uninstall.stdout + uninstall.stderr).toMatch(/kept due to the resource policy/);
    await waitFor(async () => (await kubectl(['get', 'deployment', `${release}-dnssync-controller`, '-n', ns])).code !== 0, { timeoutMs: 30_000, what: 'the Deployment gone after uninstall' });
    expect((await kubectl(['get', 'clusterrole', `${release}-dnssync-controller`])).code).not.toBe(0);
    expect(await key()).toBe(first);

    // A reinstall under the same name adopts the kept Secret and its key.
    const again = await helm(['install', release, chartDir, ...kc, ...NO_CLUSTER, '--set', 'crds.enabled=false']);
    expect(again.code, again.stderr).toBe(0);
    expect(await key()).toBe(first);
    const last = await helm(['uninstall', release, ...kc]);
    expect(last.code, last.stderr).toBe(0);
  });

  it('finds the kube-dns ClusterIP, selector and target ports with lookup; fails naming the value where no such Service exists; a value overrides it', async () => {
    const ns = await createNamespace('deploy-lookup');
    // The cluster DNS Service in a namespace of its own (agent.kubeDNS.namespace), so this test
    // neither needs nor disturbs a kube-system/kube-dns on the shared control plane.
    const dnsNs = await createNamespace('deploy-kubedns');
    const kc = ['--kubeconfig', cp.kubeconfig, '--namespace', ns, '--dry-run=server', '--set', 'crds.enabled=false', '--set', `agent.kubeDNS.namespace=${dnsNs}`];
    const manifest = (out: string): K8sObject[] => parseObjects(out.slice(out.indexOf('MANIFEST:') + 9, out.indexOf('NOTES:')));
    const agentEnv = (objects: K8sObject[], name: string): string | undefined =>
      ((find(objects, 'DaemonSet') as K8sObject & { spec: { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } } })
        .spec.template.spec.containers[0]?.env.find((e) => e.name === name)?.value);

    const missing = await helm(['install', 'look', chartDir, ...kc]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain(`agent.kubeDNS: found no ClusterIP of the Service ${dnsNs}/kube-dns (helm template and client-side dry runs cannot look it up). Set agent.kubeDNS.clusterIP`);

    const svc = await kubectl(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'v1', kind: 'Service', metadata: { name: 'kube-dns', namespace: dnsNs },
      spec: { selector: { 'app.example/dns': 'coredns' }, ports: [{ name: 'dns', port: 53, protocol: 'UDP', targetPort: 'dns' }, { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 5353 }] },
    }));
    expect(svc.code, svc.stderr).toBe(0);
    const ip = (await kubectl(['get', 'service', 'kube-dns', '-n', dnsNs, '-o', 'jsonpath={.spec.clusterIP}'])).stdout;
    expect(ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);

    const found = await helm(['install', 'look', chartDir, ...kc]);
    expect(found.code, found.stderr).toBe(0);
    const objects = manifest(found.stdout);
    expect(agentEnv(objects, 'DNSSYNC_LISTEN')).toBe(`169.254.20.10:53,${ip}:53`);
    expect(agentEnv(objects, 'DNSSYNC_UPSTREAM_RESOLVER')).toBe(`${ip}:53`);
    expect(agentEnv(objects, 'DNSSYNC_UPSTREAM_SERVICE')).toBe(`kube-dns-upstream.${dnsNs}.svc.cluster.local:53`);
    const upstream = find(objects, 'Service', 'kube-dns-upstream') as K8sObject & { spec: { selector: Record<string, string>; ports: { protocol: string; targetPort: string | number }[] } };
    expect(upstream.metadata.namespace).toBe(dnsNs);
    expect(upstream.spec.selector).toEqual({ 'app.example/dns': 'coredns' });
    expect(upstream.spec.ports.map((p) => `${p.protocol}->${p.targetPort}`).sort()).toEqual(['TCP->5353', 'UDP->dns']);
    expect(found.stdout).toContain(`ClusterIP ${ip} on its own node`);

    const given = await helm(['install', 'look', chartDir, ...kc, '--set', 'agent.kubeDNS.clusterIP=10.96.0.77']);
    expect(given.code, given.stderr).toBe(0);
    expect(agentEnv(manifest(given.stdout), 'DNSSYNC_LISTEN')).toBe('169.254.20.10:53,10.96.0.77:53');

    // Transparent mode off and no upstreams: forward to the ClusterIP found.
    const off = await helm(['install', 'look', chartDir, ...kc, '--set', 'agent.transparent.enabled=false']);
    expect(off.code, off.stderr).toBe(0);
    expect(agentEnv(manifest(off.stdout), 'DNSSYNC_UPSTREAM')).toBe(`${ip}:53`);
    expect(agentEnv(manifest(off.stdout), 'DNSSYNC_LISTEN')).toBe('169.254.20.10:53');
  });

  it('the chart tests read the chart they test', async () => {
    expect(await readFile(join(chartDir, 'Chart.yaml'), 'utf8')).toMatch(/^name: dnssync$/m);
  });
});
