/**
 * Unservable data is refused, not reported Ready (issue #12 item 7): records of one name and
 * type merge into one RRset, and an RRset that cannot fit a DNS message over TCP is answered
 * TC=1 with no data even over TCP. The real CLI controller against the shared kube-apiserver,
 * one agent, kdig over TCP as the client.
 */
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeConfig } from '@kubernetes/client-node';
import { ownControlPlane } from '../controlplane/own.js';
import { uniqueNamespace } from '../controlplane/shared.js';
import { waitFor } from '../util/wait.js';
import { createAgentPod, ensureNamespace, httpGet, startAgents, startController, tempDir, writeKeyFile, type ControllerProcess, type TestAgent } from './harness.js';

const cp = ownControlPlane(); // its controller would write other files' record statuses on the shared one
let kc: KubeConfig;
const suffix = Math.random().toString(36).slice(2, 7);
const ZONE = `big-${suffix}.test`;
const agentNs = uniqueNamespace('agents');
const appNs = uniqueNamespace('a-big');
let agent: TestAgent;
let ctl: ControllerProcess;

interface TcpAnswer {
  readonly tc: boolean;
  readonly rcode: string;
  readonly answers: number;
}

/** kdig over TCP: the flags, the rcode and how many answer records came back. */
function kdigTcp(server: string, port: number, name: string, type: string): Promise<TcpAnswer> {
  return new Promise((resolve, reject) => {
    execFile('kdig', [`@${server}`, '-p', String(port), '+tcp', '+timeout=5', '+retry=1', name, type], { timeout: 20_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout) => {
      if (err) return reject(err);
      const flags = /;; Flags: ([^;]*);/.exec(stdout)?.[1] ?? '';
      const rcode = /status: (\w+)/.exec(stdout)?.[1] ?? 'NONE';
      const answers = Number(/ANSWER: (\d+)/.exec(stdout)?.[1] ?? -1);
      resolve({ tc: /\btc\b/.test(flags), rcode, answers });
    });
  });
}

function record(name: string, owner: string, type: string, values: string[]): object {
  return { apiVersion: 'dnssync.io/v1alpha1', kind: 'DNSRecord', metadata: { name, namespace: appNs }, spec: { name: owner, type, values } };
}

async function apply(items: object[]): Promise<void> {
  const r = await cp.kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
  if (r.code !== 0) throw new Error(`kubectl apply: ${r.stderr}`);
}

async function condition(name: string, type: string): Promise<{ status: string; reason: string; message: string } | undefined> {
  const r = await cp.kubectl(['get', 'dnsrecord', '-n', appNs, name, '-o', 'json']);
  if (r.code !== 0) return undefined;
  const obj = JSON.parse(r.stdout) as { status?: { conditions?: Array<{ type: string; status: string; reason: string; message: string }> } };
  return obj.status?.conditions?.find((c) => c.type === type);
}

type Conditions = Map<string, { accepted?: { status: string; reason: string; message: string }; ready?: string }>;

/** Accepted and Ready of every DNSRecord in the namespace, in one kubectl call. */
async function allConditions(): Promise<Conditions> {
  const r = await cp.kubectl(['get', 'dnsrecords', '-n', appNs, '-o', 'json']);
  const out: Conditions = new Map();
  if (r.code !== 0) return out;
  const list = JSON.parse(r.stdout) as { items: Array<{ metadata: { name: string }; status?: { conditions?: Array<{ type: string; status: string; reason: string; message: string }> } }> };
  for (const it of list.items) {
    const cs = it.status?.conditions ?? [];
    out.set(it.metadata.name, { accepted: cs.find((c) => c.type === 'Accepted'), ready: cs.find((c) => c.type === 'Ready')?.status });
  }
  return out;
}

/** Undefined when every named record is Ready; else the first that is not, for the wait message. */
function notReady(cs: Conditions, names: readonly string[]): string | undefined {
  return names.find((n) => cs.get(n)?.ready !== 'True');
}

async function warningReasons(name: string): Promise<string[]> {
  const r = await cp.kubectl(['get', 'events', '-n', appNs, '--field-selector', `involvedObject.name=${name},type=Warning`, '-o', 'jsonpath={range .items[*]}{.reason}{"\\n"}{end}']);
  return r.stdout.split('\n').filter((l) => l !== '');
}

/** 100 distinct A values for record number `i`. */
function aValues(i: number): string[] {
  return Array.from({ length: 100 }, (_, k) => `10.${i}.${k >> 8}.${k & 0xff}`);
}

const aName = (i: number): string => `a${String(i).padStart(2, '0')}`;

beforeAll(async () => {
  kc = cp.kubeConfig();
  const dir = await tempDir('rrset-size');
  const keyFile = await writeKeyFile(dir);
  await ensureNamespace(kc, agentNs);
  await ensureNamespace(kc, appNs);
  const started = await startAgents(1, () => '127.0.53.1');
  agent = started.agents[0] as TestAgent;
  await createAgentPod(kc, agentNs, 'agent-0', agent.ip, true);
  await cp.kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'dnssync.io/v1alpha1', kind: 'DNSZone', metadata: { name: `big-${suffix}` }, spec: { zone: `${ZONE}.`, defaultTTL: 30, soa: { refresh: 1, retry: 1 } } }));
  ctl = await startController({ dir, name: 'ctl-big', kubeconfig: cp.kubeconfig, ip: '127.0.53.100', agentNs, syncPort: started.syncPort, keyFile });
  await waitFor(async () => (await httpGet(ctl.metrics, '/readyz').catch(() => ({ status: 0 }))).status === 200 || (ctl.proc.assertRunning(), false), { what: 'controller /readyz', timeoutMs: 30_000 });
});

afterAll(async () => {
  await ctl?.proc.stop();
  await agent?.stop();
  await cp.kubectl(['delete', 'dnszone', `big-${suffix}`, '--ignore-not-found']);
  for (const ns of [agentNs, appNs]) await cp.kubectl(['delete', 'namespace', ns, '--wait=false']);
});

describe('an RRset too large to serve', () => {
  it('5,000 A values merged from 50 records: the records past 64,000 octets are refused (RRsetTooLarge, Warning), the older 4,000 stay served over TCP', { timeout: 400_000 }, async () => {
    const owner = `many.${ZONE}`;
    const names = (from: number, to: number): string[] => Array.from({ length: to - from }, (_, i) => aName(from + i));
    // 2,500 values: servable, and served.
    await apply(Array.from({ length: 25 }, (_, i) => record(aName(i), owner, 'A', aValues(i))));
    await waitFor(async () => (await kdigTcp(agent.ip, agent.dnsPort, owner, 'A')).answers === 2500, { what: '2,500 A over TCP', timeoutMs: 90_000, intervalMs: 500 });
    await waitFor(async () => notReady(await allConditions(), names(0, 25)) === undefined, { what: 'the first 25 records Ready', timeoutMs: 90_000, intervalMs: 1000 });

    // 2,500 more: 5,000 × 16 octets cannot fit one 65,535-octet message; 4,000 can.
    await apply(Array.from({ length: 25 }, (_, i) => record(aName(25 + i), owner, 'A', aValues(25 + i))));
    const settled = await waitFor(
      async () => {
        const cs = await allConditions();
        const refused = names(40, 50).every((n) => cs.get(n)?.accepted?.reason === 'RRsetTooLarge');
        return refused && notReady(cs, names(0, 40)) === undefined ? cs : undefined;
      },
      { what: 'a40-a49 refused RRsetTooLarge, a00-a39 Ready', timeoutMs: 150_000, intervalMs: 1000 },
    );
    for (const n of names(40, 50)) {
      expect(settled.get(n)?.accepted).toMatchObject({ status: 'False', reason: 'RRsetTooLarge' });
      expect(settled.get(n)?.accepted?.message).toContain('over the limit of 64000');
      expect(settled.get(n)?.ready).toBe('False');
    }
    await waitFor(async () => (await warningReasons(aName(45))).includes('RRsetTooLarge'), { what: 'RRsetTooLarge Warning event', timeoutMs: 20_000, intervalMs: 500 });
    // What is served is the older records' 4,000 values, whole, not TC=1 with nothing.
    await waitFor(async () => (await kdigTcp(agent.ip, agent.dnsPort, owner, 'A')).answers === 4000, { what: '4,000 A over TCP', timeoutMs: 60_000, intervalMs: 500 });
    expect(await kdigTcp(agent.ip, agent.dnsPort, owner, 'A')).toEqual({ tc: false, rcode: 'NOERROR', answers: 4000 });

  });

  it('two TXT records of 40 × 1,400 octets: the younger is refused, the older served whole', { timeout: 120_000 }, async () => {
    const owner = `txt.${ZONE}`;
    const text = (r: number, i: number): string => `${r}-${String(i).padStart(2, '0')}-${'x'.repeat(1400 - 5)}`;
    await apply([record('t1', owner, 'TXT', Array.from({ length: 40 }, (_, i) => text(1, i)))]);
    await waitFor(async () => (await condition('t1', 'Ready'))?.status === 'True', { what: 't1 Ready', timeoutMs: 60_000, intervalMs: 500 });
    await apply([record('t2', owner, 'TXT', Array.from({ length: 40 }, (_, i) => text(2, i)))]);
    await waitFor(async () => (await condition('t2', 'Accepted'))?.reason === 'RRsetTooLarge', { what: 't2 refused RRsetTooLarge', timeoutMs: 60_000, intervalMs: 500 });
    expect((await condition('t1', 'Ready'))?.status).toBe('True');
    expect(await kdigTcp(agent.ip, agent.dnsPort, owner, 'TXT')).toEqual({ tc: false, rcode: 'NOERROR', answers: 40 });
  });
});
