/**
 * The chart without a cluster: lint, versions, the CRD copy, the values contract (documented,
 * typed, refused when wrong), and the properties the issue demands of the rendered objects.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual, promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../controlplane/assets.js';
import { parseKeyFile } from '../../src/dns/tsig.js';
import { chartDir, find, helm, NO_CLUSTER, parseObjects, render, VALUE_SETS, valuesArgs, type K8sObject } from './helm.js';

const execFileP = promisify(execFile);

interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  ports?: { name: string; containerPort: number; protocol: string }[];
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean; capabilities?: { drop?: string[]; add?: string[] } };
  livenessProbe?: { httpGet?: { path: string; port: string } };
  readinessProbe?: { httpGet?: { path: string; port: string } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}
interface PodSpec {
  hostNetwork?: boolean;
  dnsPolicy?: string;
  priorityClassName?: string;
  automountServiceAccountToken?: boolean;
  serviceAccountName?: string;
  tolerations?: { operator?: string; key?: string }[];
  securityContext?: { runAsNonRoot?: boolean; seccompProfile?: { type: string } };
  containers: Container[];
}
interface Workload extends K8sObject {
  spec: { replicas?: number; template: { spec: PodSpec }; updateStrategy?: { rollingUpdate?: { maxSurge?: number | string; maxUnavailable?: number | string } } };
}

function podSpec(o: K8sObject): PodSpec {
  return (o as Workload).spec.template.spec;
}
function env(c: Container, name: string): string | undefined {
  return c.env?.find((e) => e.name === name)?.value;
}

describe('chart metadata', () => {
  it('version and appVersion agree with package.json', async () => {
    const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    const text = await readFile(join(chartDir, 'Chart.yaml'), 'utf8');
    const chart = { version: /^version:\s*"?([^"\s]+)/m.exec(text)?.[1], appVersion: /^appVersion:\s*"?([^"\s]+)/m.exec(text)?.[1] };
    expect(chart?.version).toBe(pkg.version);
    expect(chart?.appVersion).toBe(pkg.version);
  });

  it('helm lint --strict is clean with the defaults and every value set', async () => {
    for (const set of VALUE_SETS) {
      const r = await helm(['lint', '--strict', chartDir, ...valuesArgs(set)]);
      expect(r.code, `${set}: ${r.stdout}${r.stderr}`).toBe(0);
      expect(r.stdout, set).not.toMatch(/\[(WARNING|ERROR)\]/);
    }
  });
});

describe('CRDs', () => {
  it("the chart's files/crds is a byte-for-byte copy of the repository's crds/ (make chart-crds)", async () => {
    const repo = (await readdir(join(repoRoot, 'crds'))).filter((f) => f.endsWith('.yaml')).sort();
    const chart = (await readdir(join(chartDir, 'files', 'crds'))).filter((f) => f.endsWith('.yaml')).sort();
    expect(repo.length).toBeGreaterThan(0);
    expect(chart).toEqual(repo);
    for (const f of repo) {
      expect(await readFile(join(chartDir, 'files', 'crds', f), 'utf8'), f).toBe(await readFile(join(repoRoot, 'crds', f), 'utf8'));
    }
  });

  it('renders each CRD with the same spec, release labels and the keep policy', async () => {
    const { objects } = await render('defaults');
    const rendered = objects.filter((o) => o.kind === 'CustomResourceDefinition');
    const files = (await readdir(join(repoRoot, 'crds'))).filter((f) => f.endsWith('.yaml'));
    expect(rendered).toHaveLength(files.length);
    for (const f of files) {
      const orig = parseObjects(await readFile(join(repoRoot, 'crds', f), 'utf8'))[0] as K8sObject;
      const r = rendered.find((o) => o.metadata.name === orig.metadata.name);
      expect(r, f).toBeDefined();
      expect(isDeepStrictEqual(r?.['spec'], orig['spec']), `${f}: spec differs after rendering`).toBe(true);
      expect(r?.metadata.annotations?.['helm.sh/resource-policy']).toBe('keep');
      expect(r?.metadata.labels?.['app.kubernetes.io/instance']).toBe('dnssync');
    }
  });

  it('a packaged chart (helm package) still carries and renders them: nothing points outside the chart', async () => {
    const out = await mkdtemp(join(tmpdir(), 'dnssync-package-'));
    const p = await helm(['package', chartDir, '--destination', out]);
    expect(p.code, p.stderr).toBe(0);
    const tgz = join(out, 'dnssync-' + /^version:\s*(\S+)/m.exec(await readFile(join(chartDir, 'Chart.yaml'), 'utf8'))?.[1] + '.tgz');
    const r = await helm(['template', 'pkg', tgz, ...NO_CLUSTER]);
    expect(r.code, r.stderr).toBe(0);
    const fromDir = (await render('defaults', { release: 'pkg', namespace: 'default' })).objects;
    const fromTgz = parseObjects(r.stdout);
    expect(fromTgz.filter((o) => o.kind === 'CustomResourceDefinition').map((o) => o.metadata.name).sort()).toEqual(
      fromDir.filter((o) => o.kind === 'CustomResourceDefinition').map((o) => o.metadata.name).sort(),
    );
    expect(fromTgz.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(fromDir.map((o) => `${o.kind}/${o.metadata.name}`));
  });

  it('crds.enabled=false renders none; crds.keep=false drops the keep policy', async () => {
    expect((await render('hardened')).objects.filter((o) => o.kind === 'CustomResourceDefinition')).toHaveLength(0);
    const crds = (await render('single')).objects.filter((o) => o.kind === 'CustomResourceDefinition');
    expect(crds.length).toBeGreaterThan(0);
    for (const c of crds) expect(c.metadata.annotations?.['helm.sh/resource-policy']).toBeUndefined();
  });
});

describe('values', () => {
  it('every leaf value in values.yaml has a comment, and the schema knows every key', async () => {
    const lines = (await readFile(join(chartDir, 'values.yaml'), 'utf8')).split('\n');
    const schema = JSON.parse(await readFile(join(chartDir, 'values.schema.json'), 'utf8')) as SchemaNode;
    const stack: { indent: number; key: string }[] = [];
    const undocumented: string[] = [];
    const unknown: string[] = [];
    let freeFormIndent = -1; // inside a value whose content is free-form (resources, securityContext, ...)
    lines.forEach((line, i) => {
      const m = /^(\s*)([A-Za-z][\w.-]*):(.*)$/.exec(line);
      if (!m || line.trimStart().startsWith('#') || line.trimStart().startsWith('-')) return;
      const indent = (m[1] ?? '').length;
      if (freeFormIndent >= 0 && indent > freeFormIndent) return;
      freeFormIndent = -1;
      while (stack.length > 0 && (stack.at(-1) as { indent: number }).indent >= indent) stack.pop();
      const path = [...stack.map((s) => s.key), m[2] as string];
      const node = schemaAt(schema, path);
      if (!node) unknown.push(path.join('.'));
      // A group is an object the schema spells out key by key; anything else is one value.
      const isGroup = node?.properties !== undefined && node.additionalProperties === false;
      if (!isGroup) {
        let j = i - 1;
        while (j >= 0 && /^\s*#/.test(lines[j] as string) === false && (lines[j] as string).trim() === '') j--;
        if (!/^\s*#/.test(lines[j] ?? '')) undocumented.push(path.join('.'));
        if ((m[3] ?? '').trim() === '') freeFormIndent = indent;
      }
      stack.push({ indent, key: m[2] as string });
    });
    expect(unknown).toEqual([]);
    expect(undocumented).toEqual([]);
  });

  it('values.schema.json is what deploy/helm/values.schema.gen.mjs generates', async () => {
    const { stdout } = await execFileP(process.execPath, [join(repoRoot, 'deploy', 'helm', 'values.schema.gen.mjs')]);
    expect(await readFile(join(chartDir, 'values.schema.json'), 'utf8')).toBe(stdout);
  });

  it('the schema refuses wrong types, unknown keys and impossible settings', async () => {
    const bad: [string, RegExp][] = [
      ['controller.replicas=two', /replicas/],
      ['agent.listen[0]=169.254.20.10', /listen/],
      ['agent.updateStrategy.maxUnavailable=-1', /maxUnavailable/],
      ['agent.updateStrategy.maxSurge=2', /maxSurge/],
      ['agent.syncPort=70000', /syncPort/],
      ['logLevel=verbose', /logLevel/],
      ['controller.replicaCount=2', /replicaCount/],
      ['image.digest=latest', /digest/],
    ];
    for (const [set, why] of bad) {
      const r = await helm(['template', 'x', chartDir, '--set', set]);
      expect(r.code, set).not.toBe(0);
      expect(r.stderr, set).toMatch(why);
    }
    const r = await helm(['template', 'x', chartDir, ...NO_CLUSTER, '--set', 'controller.leaderElection.enabled=false']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/leaderElection/);
  });
});

interface SchemaNode {
  properties?: Record<string, SchemaNode>;
  additionalProperties?: boolean | SchemaNode;
  type?: string;
}
function schemaAt(root: SchemaNode, path: readonly string[]): SchemaNode | undefined {
  let node: SchemaNode | undefined = root;
  for (const key of path) node = node?.properties?.[key];
  return node;
}

describe('rendered objects', () => {
  it('controller: 2 replicas, leader election, PDB, probes, resources, restricted security context', async () => {
    const { objects } = await render('defaults');
    const dep = find(objects, 'Deployment', '-controller') as Workload;
    expect(dep.spec.replicas).toBe(2);
    const spec = podSpec(dep);
    const c = spec.containers[0] as Container;
    expect(c.args?.[0]).toBe('controller');
    expect(env(c, 'DNSSYNC_LEADER_ELECT')).toBe('true');
    expect(env(c, 'DNSSYNC_AGENT_SELECTOR')).toBe('app.kubernetes.io/name=dnssync,app.kubernetes.io/instance=dnssync,app.kubernetes.io/component=agent');
    expect(c.livenessProbe?.httpGet?.path).toBe('/healthz');
    expect(c.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(c.resources?.requests?.['memory']).toBeDefined();
    expect(c.resources?.limits?.['memory']).toBeDefined();
    expect(spec.securityContext?.runAsNonRoot).toBe(true);
    expect(spec.securityContext?.seccompProfile?.type).toBe('RuntimeDefault');
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(c.securityContext?.capabilities?.add).toBeUndefined();
    const pdb = find(objects, 'PodDisruptionBudget') as K8sObject & { spec: { minAvailable: number; selector: { matchLabels: Record<string, string> } } };
    expect(pdb.spec.minAvailable).toBe(1);
    expect(pdb.spec.selector.matchLabels['app.kubernetes.io/component']).toBe('controller');
  });

  it('agent: host network, dnsPolicy Default, every taint, node-critical, surge with hand-over, no host ports, NET_ADMIN/NET_RAW/NET_BIND_SERVICE only, no token', async () => {
    const { objects } = await render('defaults');
    const ds = find(objects, 'DaemonSet') as Workload;
    const spec = podSpec(ds);
    expect(spec.hostNetwork).toBe(true);
    expect(spec.dnsPolicy).toBe('Default');
    expect(spec.priorityClassName).toBe('system-node-critical');
    expect(spec.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(spec.automountServiceAccountToken).toBe(false);
    expect(ds.spec.updateStrategy?.rollingUpdate).toEqual({ maxSurge: 1, maxUnavailable: 0 });
    const c = spec.containers[0] as Container;
    expect(c.command).toEqual(['/usr/local/bin/node-netbind', '/app/dist/src/cli/main.js']);
    expect(c.args?.[0]).toBe('agent');
    // Transparent mode: the kube-dns ClusterIP too (given here; `lookup` finds it on a cluster).
    expect(env(c, 'DNSSYNC_LISTEN')).toBe('169.254.20.10:53,10.96.0.10:53');
    expect(c.env?.find((e) => e.name === 'POD_IP')?.valueFrom?.fieldRef?.fieldPath).toBe('status.podIP');
    expect(env(c, 'DNSSYNC_SYNC_LISTEN')).toBe('$(POD_IP):5354');
    expect(env(c, 'DNSSYNC_METRICS_LISTEN')).toBe('$(POD_IP):9254');
    // The agent sets up the node's networking itself (ip, iptables): root in the container
    // with three capabilities, nothing else.
    expect(c.securityContext?.capabilities).toEqual({ drop: ['ALL'], add: ['NET_ADMIN', 'NET_RAW', 'NET_BIND_SERVICE'] });
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, runAsUser: 0, runAsNonRoot: false });
    expect(env(c, 'DNSSYNC_SETUP_INTERFACE')).toBe('dnssync');
    expect(env(c, 'DNSSYNC_SETUP_IPTABLES')).toBe('true');
    expect(env(c, 'DNSSYNC_SUPERVISE')).toBe('true');
    expect(env(c, 'DNSSYNC_HANDOVER_DIR')).toBe('/run/dnssync');
    // A host port would keep the surge Pod off the node.
    expect(c.ports ?? []).toEqual([]);
    expect(c.livenessProbe?.httpGet?.path).toBe('/healthz');
    expect(c.readinessProbe?.httpGet?.path).toBe('/readyz');
    // POD_IP must be declared before the variables that expand $(POD_IP).
    const names = (c.env ?? []).map((e) => e.name);
    expect(names.indexOf('POD_IP')).toBeLessThan(names.indexOf('DNSSYNC_SYNC_LISTEN'));
    const sa = find(objects, 'ServiceAccount', '-agent') as K8sObject & { automountServiceAccountToken?: boolean };
    expect(sa.automountServiceAccountToken).toBe(false);
    const bound = objects.filter((o) => o.kind.endsWith('Binding')).flatMap((o) => (o['subjects'] as { name: string }[]).map((s) => s.name));
    expect(bound).not.toContain(sa.metadata.name);
  });

  it('agent without nodeNetwork: non-root with NET_BIND_SERVICE only, no hand-over, no surge', async () => {
    const { objects } = await render('custom-agent');
    const ds = find(objects, 'DaemonSet') as Workload;
    const c = podSpec(ds).containers[0] as Container;
    expect(c.securityContext?.capabilities).toEqual({ drop: ['ALL'], add: ['NET_BIND_SERVICE'] });
    expect(c.securityContext?.runAsUser).toBeUndefined();
    expect(podSpec(ds).securityContext?.runAsNonRoot).toBe(true);
    expect(env(c, 'DNSSYNC_SETUP_INTERFACE')).toBeUndefined();
    expect(env(c, 'DNSSYNC_HANDOVER_DIR')).toBeUndefined();
    expect(ds.spec.updateStrategy?.rollingUpdate).toEqual({ maxSurge: 0, maxUnavailable: '10%' });
  });

  it('transparent mode (default): the agent also answers on the kube-dns ClusterIP and forwards to a kube-dns-upstream Service selecting the kube-dns pods', async () => {
    const { objects } = await render('defaults');
    const c = podSpec(find(objects, 'DaemonSet')).containers[0] as Container;
    expect(env(c, 'DNSSYNC_LISTEN')).toBe('169.254.20.10:53,10.96.0.10:53');
    // Never the ClusterIP itself as upstream: that is the agent.
    expect(env(c, 'DNSSYNC_UPSTREAM')).toBeUndefined();
    expect(env(c, 'DNSSYNC_UPSTREAM_SERVICE')).toBe('kube-dns-upstream.kube-system.svc.cluster.local:53');
    expect(env(c, 'DNSSYNC_UPSTREAM_RESOLVER')).toBe('10.96.0.10:53');
    const svc = find(objects, 'Service', 'kube-dns-upstream') as K8sObject & { spec: { selector: Record<string, string>; ports: { port: number; protocol: string; targetPort: number }[]; clusterIP?: string } };
    expect(svc.metadata.namespace).toBe('kube-system');
    expect(svc.spec.selector).toEqual({ 'k8s-app': 'kube-dns' });
    expect(svc.spec.ports.map((p) => `${p.port}/${p.protocol}->${p.targetPort}`).sort()).toEqual(['53/TCP->53', '53/UDP->53']);
    expect(svc.spec.clusterIP).toBeUndefined();
  });

  it('values override the lookup: another Service name, selector, domain; IPv6 ClusterIP in brackets', async () => {
    const { objects } = await render('defaults', { extra: ['--set', 'agent.kubeDNS.clusterIP=fd00:10:96::a', '--set', 'agent.kubeDNS.namespace=dns', '--set', 'agent.kubeDNS.podSelector.app=coredns', '--set', 'agent.kubeDNS.clusterDomain=corp.k8s', '--set', 'agent.transparent.upstreamServiceName=coredns-upstream'] });
    const c = podSpec(find(objects, 'DaemonSet')).containers[0] as Container;
    expect(env(c, 'DNSSYNC_LISTEN')).toBe('169.254.20.10:53,[fd00:10:96::a]:53');
    expect(env(c, 'DNSSYNC_UPSTREAM_SERVICE')).toBe('coredns-upstream.dns.svc.corp.k8s:53');
    expect(env(c, 'DNSSYNC_UPSTREAM_RESOLVER')).toBe('[fd00:10:96::a]:53');
    const svc = find(objects, 'Service', 'coredns-upstream') as K8sObject & { spec: { selector: Record<string, string> } };
    expect(svc.metadata.namespace).toBe('dns');
    expect(svc.spec.selector).toEqual({ app: 'coredns' });
  });

  it('helm template with no cluster to look kube-dns up in fails, naming the value to set; transparent off with upstreams needs none', async () => {
    const r = await helm(['template', 'x', chartDir]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('agent.kubeDNS: found no ClusterIP of the Service kube-system/kube-dns (helm template and client-side dry runs cannot look it up). Set agent.kubeDNS.clusterIP');
    const off = await helm(['template', 'x', chartDir, '--set', 'agent.transparent.enabled=false', '--set', 'agent.upstreams={10.96.0.10:53}']);
    expect(off.code, off.stderr).toBe(0);
    const objects = parseObjects(off.stdout);
    const c = podSpec(find(objects, 'DaemonSet')).containers[0] as Container;
    expect(env(c, 'DNSSYNC_LISTEN')).toBe('169.254.20.10:53');
    expect(env(c, 'DNSSYNC_UPSTREAM')).toBe('10.96.0.10:53');
    expect(env(c, 'DNSSYNC_UPSTREAM_SERVICE')).toBeUndefined();
    expect(objects.some((o) => o.metadata.name === 'kube-dns-upstream')).toBe(false);
    // Off and no upstreams: kube-dns at its ClusterIP, which must then be known.
    const plain = await render('defaults', { extra: ['--set', 'agent.transparent.enabled=false', '--set', 'agent.kubeDNS.clusterIP=10.96.0.53'] });
    expect(env(podSpec(find(plain.objects, 'DaemonSet')).containers[0] as Container, 'DNSSYNC_UPSTREAM')).toBe('10.96.0.53:53');
  });

  it('refuses the kube-dns ClusterIP as an upstream in transparent mode (a loop), and transparent mode without node networking', async () => {
    const loop = await helm(['template', 'x', chartDir, ...NO_CLUSTER, '--set', 'agent.upstreams={10.96.0.10:53}']);
    expect(loop.code).not.toBe(0);
    expect(loop.stderr).toContain('agent.upstreams lists 10.96.0.10:53, the kube-dns ClusterIP the agents answer on in transparent mode: queries would loop back to the agent');
    const bare = await helm(['template', 'x', chartDir, ...NO_CLUSTER, '--set', 'agent.nodeNetwork.enabled=false', '--set', 'agent.handover.enabled=false', '--set', 'agent.updateStrategy.maxSurge=0', '--set', 'agent.updateStrategy.maxUnavailable=1']);
    expect(bare.code).not.toBe(0);
    expect(bare.stderr).toContain('agent.transparent needs agent.nodeNetwork.enabled and agent.nodeNetwork.iptables');
  });

  it('refuses a surge without the hand-over that makes it possible', async () => {
    const r = await helm(['template', 'x', chartDir, ...NO_CLUSTER, '--set', 'agent.handover.enabled=false']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('agent.updateStrategy.maxSurge 1 needs agent.handover.enabled');
  });

  it('the TSIG Secret holds a BIND key file with a fresh 256-bit key, kept on uninstall', async () => {
    const a = find((await render('defaults')).objects, 'Secret', '-tsig') as K8sObject & { data: Record<string, string> };
    const b = find((await render('defaults')).objects, 'Secret', '-tsig') as K8sObject & { data: Record<string, string> };
    expect(a.metadata.annotations?.['helm.sh/resource-policy']).toBe('keep');
    const text = Buffer.from(a.data['tsig.key'] ?? '', 'base64').toString('utf8');
    const keys = parseKeyFile(text);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ name: 'dnssync', algorithm: 'hmac-sha256' });
    expect(keys[0]?.secret.length).toBe(32);
    // Without a cluster to look the old one up in, each render draws a new key.
    expect(b.data['tsig.key']).not.toBe(a.data['tsig.key']);
    // BIND itself accepts the file.
    const dir = await mkdtemp(join(tmpdir(), 'dnssync-tsig-'));
    await writeFile(join(dir, 'tsig.key'), text);
    await execFileP('named-checkconf', [join(dir, 'tsig.key')]);
  });

  it('tsig.existingSecret: no Secret rendered, both components mount the named key', async () => {
    const { objects } = await render('hardened');
    expect(objects.filter((o) => o.kind === 'Secret')).toHaveLength(0);
    for (const o of objects.filter((x) => x.kind === 'Deployment' || x.kind === 'DaemonSet')) {
      const vols = (o as Workload).spec.template.spec as unknown as { volumes: { name: string; secret?: { secretName: string; items: { key: string }[] } }[] };
      const tsig = vols.volumes.find((v) => v.name === 'tsig');
      expect(tsig?.secret?.secretName).toBe('corp-dnssync-tsig');
      expect(tsig?.secret?.items[0]?.key).toBe('dnssync.key');
    }
  });

  it('the NetworkPolicy lets only the controller reach the sync port, DNS stays open', async () => {
    const np = find((await render('hardened')).objects, 'NetworkPolicy') as K8sObject & {
      spec: { ingress: { from?: { podSelector?: { matchLabels: Record<string, string> } }[]; ports: { port: number; protocol: string }[] }[] };
    };
    const sync = np.spec.ingress.filter((r) => r.ports.some((p) => p.port === 5354));
    expect(sync).toHaveLength(1);
    expect(sync[0]?.from).toEqual([{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'dnssync', 'app.kubernetes.io/instance': 'dnssync', 'app.kubernetes.io/component': 'controller' } } }]);
    const dns = np.spec.ingress.find((r) => r.ports.some((p) => p.port === 53));
    expect(dns?.from).toBeUndefined();
    expect((await render('defaults')).objects.some((o) => o.kind === 'NetworkPolicy')).toBe(false);
  });

  it('the dashboard is valid JSON and queries only dnssync_ metrics that the code defines', async () => {
    const text = await readFile(join(chartDir, 'files', 'dashboards', 'dnssync.json'), 'utf8');
    const dash = JSON.parse(text) as { panels: { targets?: { expr: string }[] }[] };
    const exprs = dash.panels.flatMap((p) => p.targets ?? []).map((t) => t.expr);
    expect(exprs.length).toBeGreaterThan(5);
    const used = new Set(exprs.flatMap((e) => e.match(/dnssync_[a-z0-9_]+/g) ?? []).map((n) => n.replace(/_(bucket|sum|count)$/, '')));
    const defined = await definedMetricNames();
    const missing = [...used].filter((n) => !defined.has(n));
    expect(missing).toEqual([]);
    const cm = find((await render('monitoring')).objects, 'ConfigMap', '-dashboard') as K8sObject & { data: Record<string, string> };
    expect(JSON.parse(cm.data['dnssync.json'] ?? '')).toEqual(dash);
    expect(cm.metadata.labels?.['grafana_dashboard']).toBe('1');
  });
});

/**
 * Metric names the source registers (`name: 'dnssync_…'`, or `live('dnssync_…'` for the agent's
 * metrics computed at scrape time), plus prom-client's default process metrics.
 */
async function definedMetricNames(): Promise<Set<string>> {
  const names = new Set<string>();
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) {
        for (const m of (await readFile(p, 'utf8')).matchAll(/(?:name:\s*|live\(\s*)'(dnssync_[a-z0-9_]+)'/g)) names.add(m[1] as string);
      }
    }
  };
  await walk(join(repoRoot, 'src'));
  for (const n of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_heap_size_used_bytes']) names.add(`dnssync_process_${n}`);
  return names;
}
