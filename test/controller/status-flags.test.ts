/**
 * --status-qps and --status-burst reach the status writer of the real controller: with a
 * limit of 2 writes a second and a burst of 1, a batch of new records is written to the API
 * as a trickle that never runs ahead of the token bucket, counted on the controller's own
 * /metrics. A private control plane: a controller on the shared one would write the
 * statuses of other test files' records too. Addresses: 127.0.56.0/24.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import type { KubeConfig } from '@kubernetes/client-node';
import { startControlPlane, type ControlPlane } from '../controlplane/controlplane.js';
import { waitFor } from '../util/wait.js';
import { ensureNamespace, httpGet, mainJs, nodeBin, startController, tempDir, writeKeyFile, type ControllerProcess } from './harness.js';

let cp: ControlPlane;
let kc: KubeConfig;
const suffix = Math.random().toString(36).slice(2, 7);
const ZONE = `rate-${suffix}.test`;
const agentNs = 'rate-agents';
const appNs = 'rate-app';
const QPS = 2;
const BURST = 1;
let ctl: ControllerProcess;

/** Every status write this controller made, whatever its kind and result. */
async function writes(): Promise<number> {
  const m = await httpGet(ctl.metrics, '/metrics');
  let sum = 0;
  for (const line of m.body.split('\n')) if (line.startsWith('dnssync_status_writes_total{')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

beforeAll(async () => {
  cp = await startControlPlane();
  kc = cp.kubeConfig();
  const dir = await tempDir('status-flags');
  const keyFile = await writeKeyFile(dir);
  await ensureNamespace(kc, agentNs);
  await ensureNamespace(kc, appNs);
  ctl = await startController({ dir, name: 'ctl-rate', kubeconfig: cp.kubeconfig, ip: '127.0.56.100', agentNs, syncPort: 5301, keyFile, extra: ['--status-qps', String(QPS), '--status-burst', String(BURST)] });
  await waitFor(async () => (await httpGet(ctl.metrics, '/readyz').catch(() => ({ status: 0 }))).status === 200 || (ctl.proc.assertRunning(), false), { what: 'controller /readyz', timeoutMs: 30_000 });
});

afterAll(async () => {
  await ctl?.proc.stop();
  await cp?.stop();
});

describe('--status-qps / --status-burst', () => {
  it('a batch of records is written at no more than burst + qps x elapsed', async () => {
    // A token bucket never allows more than burst + qps x t writes in any window of t seconds.
    const items = [
      { apiVersion: 'dnssync.io/v1alpha1', kind: 'DNSZone', metadata: { name: `rate-${suffix}` }, spec: { zone: `${ZONE}.` } },
      ...Array.from({ length: 8 }, (_, i) => ({ apiVersion: 'dnssync.io/v1alpha1', kind: 'DNSRecord', metadata: { name: `r${i}`, namespace: appNs }, spec: { name: `r${i}.${ZONE}`, type: 'A', values: [`10.0.0.${i + 1}`] } })),
    ];
    const base = await writes();
    const t0 = performance.now();
    const r = await cp.kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
    expect(r.code, r.stderr).toBe(0);
    // Nine objects want at least nine writes; at 2/s after a burst of 1 that takes >= 4 s.
    // Elapsed time counts from before the apply (kubectl alone can take seconds here), which
    // only loosens the bound.
    const applied = performance.now();
    const samples: Array<{ t: number; n: number }> = [];
    while (performance.now() - applied < 3000) {
      const n = (await writes()) - base;
      samples.push({ t: (performance.now() - t0) / 1000, n });
      await new Promise((res) => setTimeout(res, 100)); // sampling period, not synchronisation
    }
    for (const s of samples) expect(s.n, `${s.n} writes ${s.t.toFixed(2)} s after the batch`).toBeLessThanOrEqual(BURST + QPS * s.t + 1);
    // Writing goes on at the rate: at least a couple of writes in the window.
    expect(samples[samples.length - 1]?.n).toBeGreaterThanOrEqual(2);
  });

  it('a value out of range is refused naming the flag, exit code 2', async () => {
    for (const [flag, value] of [['--status-qps', '0'], ['--status-burst', 'x']] as const) {
      const res = await new Promise<{ code: number; stderr: string }>((resolve) => {
        execFile(nodeBin, [mainJs, 'controller', flag, value], { timeout: 30_000 }, (err, _out, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stderr }));
      });
      expect(res.code).toBe(2);
      expect(res.stderr).toContain(flag);
    }
  });
});
