/**
 * The chart's alert rules against the metrics dnssync really exports: every dnssync_ metric
 * an alert expression names must be a family in the /metrics of a real controller (the CLI,
 * leading, against the shared kube-apiserver, with one agent Pod and a zone) or of a real
 * agent (the CLI, synced from that controller, after a query), and every label an expression
 * selects or groups by must be one those series carry (or one Prometheus adds to a target).
 * A renamed metric or label breaks this test instead of silently never firing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedControlPlane, uniqueNamespace } from '../controlplane/shared.js';
import { createAgentPod, ensureNamespace, httpGet, mainJs, nodeBin, startController, tempDir, writeKeyFile, type ControllerProcess } from '../controller/harness.js';
import { freePort, kdig, writeZone } from '../agent/helpers.js';
import { parseScrape, type Scrape } from '../util/prom.js';
import { waitFor } from '../util/wait.js';
import { find, render } from './helm.js';

const cp = sharedControlPlane();
const kc = cp.kubeConfig();
const IP = '127.0.62.1';
const suffix = Math.random().toString(36).slice(2, 7);
const ZONE_OBJ = `alerts-${suffix}`;
const agentNs = uniqueNamespace('alerts');
/** Labels Prometheus (or the chart's ServiceMonitor relabeling) puts on every target's series. */
const TARGET_LABELS = new Set(['namespace', 'instance', 'job', 'pod', 'node', 'service', 'endpoint', 'container']);

let ctl: ControllerProcess;
let agent: ChildProcess | undefined;
let agentMetrics = '';

interface Rule {
  alert: string;
  expr: string;
}

beforeAll(async () => {
  const dir = await tempDir('alerts');
  const keyFile = await writeKeyFile(dir);
  await ensureNamespace(kc, agentNs);
  const syncPort = await freePort(IP);
  const dnsPort = await freePort(IP);
  const metricsPort = await freePort(IP);
  agentMetrics = `${IP}:${metricsPort}`;
  const zone = await writeZone('$ORIGIN static.alerts.\n@ 60 IN SOA ns h 1 60 10 3600 5\n@ 60 IN NS ns\nns 60 IN A 10.0.0.1\n');
  agent = spawn(nodeBin, [mainJs, 'agent', '--listen', `${IP}:${dnsPort}`, '--sync-listen', `${IP}:${syncPort}`, '--tsig-key-file', keyFile, '--metrics-listen', agentMetrics, '--zone-file', zone, '--log-level', 'warn'], { stdio: 'ignore' });
  await createAgentPod(kc, agentNs, 'agent-0', IP, true);
  const r = await cp.kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'dnssync.io/v1alpha1', kind: 'DNSZone', metadata: { name: ZONE_OBJ }, spec: { zone: `${ZONE_OBJ}.test.` } }));
  expect(r.code, r.stderr).toBe(0);
  ctl = await startController({ dir, name: 'ctl-alerts', kubeconfig: cp.kubeconfig, ip: '127.0.62.100', agentNs, syncPort, keyFile });
  await waitFor(async () => (await httpGet(ctl.metrics, '/readyz').catch(() => ({ status: 0 }))).status === 200 || (ctl.proc.assertRunning(), false), { what: 'controller /readyz', timeoutMs: 30_000 });
  // The agent holds the zone (so the leader has per-agent series) and has answered a query.
  await waitFor(async () => (await kdig(IP, dnsPort, [`${ZONE_OBJ}.test`, 'SOA']).catch(() => undefined))?.RCODE === 0, { what: 'agent serves the synced zone', timeoutMs: 30_000 });
  // Series with labels appear once there is something to count: a status written, and the
  // leader's per-agent gauges (set on its 1 s lag clock).
  await waitFor(async () => /^dnssync_status_writes_total\{/m.test((await httpGet(ctl.metrics, '/metrics')).body), { what: 'a status write counted', timeoutMs: 30_000 });
  await waitFor(async () => /^dnssync_sync_agent_lag_seconds\{[^}]*zone=/m.test((await httpGet(ctl.metrics, '/metrics')).body), { what: "the leader's per-agent lag series", timeoutMs: 30_000 });
});

afterAll(async () => {
  await ctl?.proc.stop();
  if (agent !== undefined && agent.exitCode === null) {
    const exited = new Promise((resolve) => agent?.once('exit', resolve));
    agent.kill('SIGTERM');
    await exited;
  }
  await cp.kubectl(['delete', 'dnszone', ZONE_OBJ, '--ignore-not-found']);
  await cp.kubectl(['delete', 'namespace', agentNs, '--wait=false']);
});

/** dnssync_ names in an expression, with the labels matched on each and the grouping labels. */
function exprParts(expr: string): { metrics: Map<string, Set<string>>; grouping: Set<string> } {
  const metrics = new Map<string, Set<string>>();
  for (const m of expr.matchAll(/\b(dnssync_[a-z0-9_]+)\s*(\{([^}]*)\})?/g)) {
    const labels = metrics.get(m[1] as string) ?? new Set<string>();
    for (const l of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/g)) labels.add(l[1] as string);
    metrics.set(m[1] as string, labels);
  }
  const grouping = new Set<string>();
  for (const g of expr.matchAll(/\b(?:by|without|on|ignoring)\s*\(([^)]*)\)/g)) for (const l of (g[1] as string).split(',')) if (l.trim() !== '') grouping.add(l.trim());
  return { metrics, grouping };
}

function familyOf(name: string, s: Scrape): string | undefined {
  if (s.families.has(name)) return name;
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return s.families.get(base) === 'histogram' ? base : undefined;
}

describe('alert rules', () => {
  it('name only metrics and labels that a real controller and agent export', async () => {
    const { objects } = await render('defaults', { extra: ['--set', 'metrics.prometheusRule.enabled=true'] });
    const rule = find(objects, 'PrometheusRule') as unknown as { spec: { groups: { rules: Rule[] }[] } };
    const rules = rule.spec.groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.alert).sort()).toEqual(['DnssyncAgentNotReady', 'DnssyncCacheMissStorm', 'DnssyncForwardFailures', 'DnssyncLatencyHigh', 'DnssyncNoLeader', 'DnssyncNotifyRetries', 'DnssyncServfailHigh', 'DnssyncSyncErrors', 'DnssyncZoneBehind']);

    const controller = parseScrape((await httpGet(ctl.metrics, '/metrics')).body);
    const agentScrape = parseScrape((await httpGet(agentMetrics, '/metrics')).body);
    const problems: string[] = [];
    for (const r of rules) {
      const { metrics, grouping } = exprParts(r.expr);
      expect(metrics.size, r.alert).toBeGreaterThan(0);
      for (const [name, matched] of metrics) {
        const where = [controller, agentScrape].map((s) => ({ s, family: familyOf(name, s) })).filter((x) => x.family !== undefined);
        if (where.length === 0) {
          problems.push(`${r.alert}: ${name} is exported by neither the controller nor the agent`);
          continue;
        }
        // Every label the expression needs must be on the series (or be a target label).
        const carried = new Set(where.flatMap(({ s, family }) => s.samples.filter((x) => x.name === family || x.name.startsWith(`${family}_`)).flatMap((x) => Object.keys(x.labels))));
        for (const l of [...matched, ...grouping]) {
          if (TARGET_LABELS.has(l) || carried.has(l)) continue;
          // A grouping label must be carried by at least one metric of the expression.
          if (grouping.has(l) && !matched.has(l)) continue;
          problems.push(`${r.alert}: ${name} carries no label ${l} (seen: ${[...carried].join(', ') || 'no series'})`);
        }
      }
      for (const l of grouping) {
        if (TARGET_LABELS.has(l)) continue;
        const anywhere = [...metrics.keys()].some((name) => [controller, agentScrape].some((s) => s.samples.some((x) => (x.name === name || x.name.startsWith(`${name}_`)) && l in x.labels)));
        if (!anywhere) problems.push(`${r.alert}: grouping by ${l}, which none of its metrics carry`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('the rule checker itself refuses a name nobody exports and a label nobody carries', () => {
    const { metrics, grouping } = exprParts('sum by (zone, le) (rate(dnssync_x_bucket{namespace="a",state!="b"}[5m])) / dnssync_y');
    expect([...metrics.keys()]).toEqual(['dnssync_x_bucket', 'dnssync_y']);
    expect([...(metrics.get('dnssync_x_bucket') ?? [])]).toEqual(['namespace', 'state']);
    expect([...grouping]).toEqual(['zone', 'le']);
    const s = parseScrape('# TYPE dnssync_x histogram\ndnssync_x_bucket{le="1"} 1\n# TYPE dnssync_z counter\n');
    expect(familyOf('dnssync_x_bucket', s)).toBe('dnssync_x');
    expect(familyOf('dnssync_y', s)).toBeUndefined();
    expect(familyOf('dnssync_z_count', s)).toBeUndefined();
  });

  it('auto: rendered only where the cluster serves the PrometheusRule API; false: never', async () => {
    expect((await render('defaults')).objects.some((o) => o.kind === 'PrometheusRule')).toBe(false);
    expect((await render('defaults', { extra: ['--api-versions', 'monitoring.coreos.com/v1/PrometheusRule'] })).objects.some((o) => o.kind === 'PrometheusRule')).toBe(true);
    expect((await render('defaults', { extra: ['--api-versions', 'monitoring.coreos.com/v1/PrometheusRule', '--set', 'metrics.prometheusRule.enabled=false'] })).objects.some((o) => o.kind === 'PrometheusRule')).toBe(false);
    const custom = await render('defaults', { namespace: 'dns', extra: ['--set', 'metrics.prometheusRule.enabled=true', '--set', 'metrics.prometheusRule.selector=job="x"', '--set', 'metrics.prometheusRule.thresholds.zoneBehindSeconds=60'] });
    const rules = (find(custom.objects, 'PrometheusRule') as unknown as { spec: { groups: { rules: Rule[] }[] } }).spec.groups.flatMap((g) => g.rules);
    expect(rules.find((r) => r.alert === 'DnssyncZoneBehind')?.expr).toBe('max by (zone) (dnssync_sync_agent_lag_seconds{job="x"}) > 60');
    const dflt = (find((await render('defaults', { namespace: 'dns', extra: ['--set', 'metrics.prometheusRule.enabled=true'] })).objects, 'PrometheusRule') as unknown as { spec: { groups: { rules: Rule[] }[] } }).spec.groups.flatMap((g) => g.rules);
    for (const r of dflt) for (const m of r.expr.matchAll(/dnssync_[a-z0-9_]+(\{[^}]*\})?/g)) expect(m[1], `${r.alert}: ${m[0]}`).toMatch(/^\{namespace="dns"/);
  });
});
