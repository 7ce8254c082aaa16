/**
 * The chart's alert rules in Prometheus's own rule engine (promtool, from Debian's prometheus
 * package): the rendered rules parse, their templates are valid, and each alert fires on the
 * series that mean trouble — after its `for` — and stays quiet on healthy ones. Synthetic
 * series, named and labelled as a real agent and controller export them (alerts.test.ts
 * checks that part against real processes).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { find, render } from './helm.js';

const exec = promisify(execFile);

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

async function rules(): Promise<{ name: string; rules: Rule[] }[]> {
  const { objects } = await render('defaults', { namespace: 'dns', extra: ['--set', 'metrics.prometheusRule.enabled=true'] });
  return (find(objects, 'PrometheusRule') as unknown as { spec: { groups: { name: string; rules: Rule[] }[] } }).spec.groups;
}

async function promtool(args: string[], cwd: string): Promise<{ code: number; out: string }> {
  try {
    const r = await exec('promtool', args, { cwd });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw new Error(`promtool not runnable (Debian package prometheus; .ci/run installs it): ${String(err)}`, { cause: err });
    return { code: e.code, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

const T = 'namespace="dns",instance="10.0.0.1:9254",node="n1"';
const AGENT = { namespace: 'dns', instance: '10.0.0.1:9254', node: 'n1' };
const C = 'namespace="dns",instance="10.1.0.1:9090"';

/** One promtool unit test: input series (1 m apart) and what each alert shows at some times. */
interface Case {
  readonly series: Record<string, string>;
  readonly expect: readonly { readonly at: string; readonly alert: string; readonly labels: readonly Record<string, string>[] }[];
}

const CASES: Record<string, Case> = {
  'agent not ready: fires after 10 minutes, not for a Pod that is ready': {
    series: { [`dnssync_agents{${C},state="not_ready"}`]: '1x30', [`dnssync_agents{${C},state="in_sync"}`]: '3x30' },
    expect: [
      { at: '5m', alert: 'DnssyncAgentNotReady', labels: [] },
      { at: '15m', alert: 'DnssyncAgentNotReady', labels: [{ severity: 'warning' }] },
    ],
  },
  'agent not ready: quiet while the count is 0': {
    series: { [`dnssync_agents{${C},state="not_ready"}`]: '0x30' },
    expect: [{ at: '25m', alert: 'DnssyncAgentNotReady', labels: [] }],
  },
  'zone behind: fires per zone once an agent is 300 s behind, not before': {
    series: {
      [`dnssync_sync_agent_lag_seconds{${C},agent="dnssync/a",zone="z.test"}`]: '0+60x15',
      [`dnssync_sync_agent_lag_seconds{${C},agent="dnssync/b",zone="z.test"}`]: '0x15',
      [`dnssync_sync_agent_lag_seconds{${C},agent="dnssync/a",zone="calm.test"}`]: '0x15',
    },
    expect: [
      { at: '5m', alert: 'DnssyncZoneBehind', labels: [] },
      { at: '8m', alert: 'DnssyncZoneBehind', labels: [{ zone: 'z.test', severity: 'warning' }] },
    ],
  },
  'no leader: fires when no controller leads; quiet with one leading': {
    series: { 'dnssync_leader{namespace="dns",instance="c1"}': '0x20', 'dnssync_leader{namespace="dns",instance="c2"}': '0x10 1x10' },
    expect: [
      { at: '7m', alert: 'DnssyncNoLeader', labels: [{ severity: 'critical' }] },
      { at: '18m', alert: 'DnssyncNoLeader', labels: [] },
    ],
  },
  'sync errors: transfer failures that keep occurring fire; successful status writes do not': {
    series: {
      [`dnssync_sync_pull_failures_total{${T},reason="timeout"}`]: '0+1x40',
      [`dnssync_status_writes_total{${C},kind="DNSZone",result="ok"}`]: '0+50x40',
    },
    expect: [
      { at: '10m', alert: 'DnssyncSyncErrors', labels: [] },
      { at: '25m', alert: 'DnssyncSyncErrors', labels: [{ severity: 'warning' }] },
    ],
  },
  'sync errors: failed status writes alone fire': {
    series: { [`dnssync_status_writes_total{${C},kind="DNSZone",result="error"}`]: '0+2x40' },
    expect: [{ at: '25m', alert: 'DnssyncSyncErrors', labels: [{ severity: 'warning' }] }],
  },
  'sync errors: quiet without errors': {
    series: { [`dnssync_status_writes_total{${C},kind="DNSZone",result="ok"}`]: '0+50x40', [`dnssync_sync_pull_failures_total{${T},reason="timeout"}`]: '3x40' },
    expect: [{ at: '35m', alert: 'DnssyncSyncErrors', labels: [] }],
  },
  'NOTIFY retries: 30 % retried fires, 10 % does not': {
    series: {
      [`dnssync_sync_notifies_sent_total{${C},kind="diff"}`]: '0+100x40',
      [`dnssync_sync_notifies_retried_total{${C}}`]: '0+30x20 600+10x20',
    },
    expect: [
      { at: '19m', alert: 'DnssyncNotifyRetries', labels: [{ severity: 'warning' }] },
      { at: '39m', alert: 'DnssyncNotifyRetries', labels: [] },
    ],
  },
  'cache miss storm: 1,000 misses/s at 99 % misses fires; the same misses with many hits do not': {
    series: {
      [`dnssync_agent_cache_misses_total{${T}}`]: '0+60000x30',
      [`dnssync_agent_cache_hits_total{${T}}`]: '0+600x30',
      'dnssync_agent_cache_misses_total{namespace="dns",instance="10.0.0.2:9254",node="n2"}': '0+60000x30',
      'dnssync_agent_cache_hits_total{namespace="dns",instance="10.0.0.2:9254",node="n2"}': '0+6000000x30',
    },
    expect: [
      { at: '8m', alert: 'DnssyncCacheMissStorm', labels: [] },
      { at: '20m', alert: 'DnssyncCacheMissStorm', labels: [{ ...AGENT, severity: 'warning' }] },
    ],
  },
  'forward failures: 2 % of queries fires, per agent': {
    series: {
      [`dnssync_agent_forward_failures_total{${T}}`]: '0+120x30',
      [`dnssync_agent_requests_total{${T},proto="udp",family="1",type="A"}`]: '0+6000x30',
      'dnssync_agent_forward_failures_total{namespace="dns",instance="10.0.0.2:9254",node="n2"}': '0+6x30',
      'dnssync_agent_requests_total{namespace="dns",instance="10.0.0.2:9254",node="n2",proto="udp",family="1",type="A"}': '0+6000x30',
    },
    expect: [{ at: '20m', alert: 'DnssyncForwardFailures', labels: [{ ...AGENT, severity: 'warning' }] }],
  },
  'SERVFAIL share: 9 % fires, per agent': {
    series: {
      [`dnssync_agent_queries_total{${T},source="local",rcode="SERVFAIL"}`]: '0+600x30',
      [`dnssync_agent_queries_total{${T},source="cache",rcode="NOERROR"}`]: '0+6000x30',
      'dnssync_agent_queries_total{namespace="dns",instance="10.0.0.2:9254",node="n2",source="cache",rcode="NOERROR"}': '0+6000x30',
    },
    expect: [{ at: '20m', alert: 'DnssyncServfailHigh', labels: [{ ...AGENT, severity: 'warning' }] }],
  },
  'latency: a p99 between 1.024 s and 2.048 s fires; one under 1 ms does not': {
    series: {
      [`dnssync_agent_request_duration_seconds_bucket{${T},le="0.001"}`]: '0+10x30',
      [`dnssync_agent_request_duration_seconds_bucket{${T},le="1.024"}`]: '0+10x30',
      [`dnssync_agent_request_duration_seconds_bucket{${T},le="2.048"}`]: '0+1000x30',
      [`dnssync_agent_request_duration_seconds_bucket{${T},le="+Inf"}`]: '0+1000x30',
      'dnssync_agent_request_duration_seconds_bucket{namespace="dns",instance="10.0.0.2:9254",node="n2",le="0.001"}': '0+1000x30',
      'dnssync_agent_request_duration_seconds_bucket{namespace="dns",instance="10.0.0.2:9254",node="n2",le="+Inf"}': '0+1000x30',
    },
    expect: [{ at: '20m', alert: 'DnssyncLatencyHigh', labels: [{ ...AGENT, severity: 'warning' }] }],
  },
};

describe('alert rules in promtool', () => {
  it('parse, with valid templates', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dnssync-rules-'));
    await writeFile(join(dir, 'rules.json'), JSON.stringify({ groups: await rules() }));
    const r = await promtool(['check', 'rules', 'rules.json'], dir);
    expect(r.out).toMatch(/SUCCESS: 9 rules found/);
    expect(r.code, r.out).toBe(0);
  });

  it('every alert is exercised below', async () => {
    const names = (await rules()).flatMap((g) => g.rules.map((r) => r.alert));
    const tested = new Set(Object.values(CASES).flatMap((c) => c.expect.map((e) => e.alert)));
    expect(names.filter((n) => !tested.has(n))).toEqual([]);
  });

  it.each(Object.keys(CASES))('%s', async (name) => {
    const c = CASES[name] as Case;
    const dir = await mkdtemp(join(tmpdir(), 'dnssync-rules-'));
    // Annotations are checked by `check rules`; here only when and with which labels.
    const groups = (await rules()).map((g) => ({ ...g, rules: g.rules.map((r) => ({ alert: r.alert, expr: r.expr, ...(r.for ? { for: r.for } : {}), labels: r.labels ?? {} })) }));
    await writeFile(join(dir, 'rules.json'), JSON.stringify({ groups }));
    const test = {
      rule_files: ['rules.json'],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: Object.entries(c.series).map(([series, values]) => ({ series, values })),
          alert_rule_test: c.expect.map((e) => ({ eval_time: e.at, alertname: e.alert, exp_alerts: e.labels.map((l) => ({ exp_labels: l })) })),
        },
      ],
    };
    await writeFile(join(dir, 'test.json'), JSON.stringify(test));
    const r = await promtool(['test', 'rules', 'test.json'], dir);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/SUCCESS/);
  });
});
