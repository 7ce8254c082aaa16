/**
 * The e2e tests' handle on the cluster of `make cluster` (test/cluster/cluster.sh): kubectl
 * and helm with its kubeconfig, pods to query from, and polling helpers. The tests run inside
 * the cluster's network namespace (`make e2e` enters it), so node and pod addresses are
 * reachable directly.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { waitFor } from '../util/wait.js';

export const KUBECONFIG = process.env['KUBECONFIG'] ?? '/run/dnssync-cluster/admin.kubeconfig';
const ASSETS = process.env['KUBEBUILDER_ASSETS'] ?? '';
export const NODES = ['n1', 'n2'] as const;
export type NodeName = (typeof NODES)[number];
export const TOOLS_IMAGE = 'dnssync.local/tools:1';
export const NODE_LOCAL = '169.254.20.10';

export class CommandError extends Error {
  override readonly name = 'CommandError';
  constructor(
    readonly command: string,
    readonly code: number,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(`${command} exited ${code}: ${stderr.trim() || stdout.trim()}`);
  }
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command; never throws for a non-zero exit (tests assert on refusals too). */
export function run(file: string, args: readonly string[], input?: string, timeoutMs = 60_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { timeout: timeoutMs, maxBuffer: 32 << 20, env: { ...process.env, KUBECONFIG } }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') {
        reject(new Error(`${file} ${args.join(' ')}: ${err.message}`));
        return;
      }
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

async function must(file: string, args: readonly string[], input?: string, timeoutMs?: number): Promise<string> {
  const r = await run(file, args, input, timeoutMs);
  if (r.code !== 0) throw new CommandError(`${file.split('/').pop() ?? file} ${args.join(' ')}`, r.code, r.stdout, r.stderr);
  return r.stdout;
}

const bin = (name: string): string => (ASSETS === '' ? name : join(ASSETS, name));
export const kubectl = (args: readonly string[], input?: string, timeoutMs?: number): Promise<string> => must(bin('kubectl'), args, input, timeoutMs);
export const kubectlRun = (args: readonly string[], input?: string): Promise<RunResult> => run(bin('kubectl'), args, input);
export const helm = (args: readonly string[], timeoutMs = 300_000): Promise<string> => must(bin('helm'), args, undefined, timeoutMs);

/** A long-running pod with kdig and dig on NODE, on the pod network or the node's network. */
export function toolsPod(name: string, namespace: string, node: NodeName, hostNetwork: boolean): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: { app: 'e2e-tools' } },
    spec: {
      nodeName: node,
      hostNetwork,
      // A host-network pod asks the cluster DNS too (not the node's resolv.conf).
      dnsPolicy: hostNetwork ? 'ClusterFirstWithHostNet' : 'ClusterFirst',
      terminationGracePeriodSeconds: 0,
      tolerations: [{ operator: 'Exists' }],
      containers: [{ name: 'tools', image: TOOLS_IMAGE, imagePullPolicy: 'Never' }],
    },
  });
}

export async function waitPodReady(namespace: string, name: string, timeoutMs = 120_000): Promise<void> {
  await kubectl(['-n', namespace, 'wait', '--for=condition=Ready', `pod/${name}`, `--timeout=${Math.round(timeoutMs / 1000)}s`], undefined, timeoutMs + 10_000);
}

export interface DigAnswer {
  /** The DNS rcode, or 'TIMEOUT' (kdig got no reply), or 'EXEC' (kubectl exec itself failed). */
  readonly rcode: string;
  readonly answers: readonly string[];
  /** Why there is no rcode: kdig's or kubectl's own words. */
  readonly detail?: string;
  /** The server that answered (kdig's ";; From ADDR@PORT"), e.g. resolv.conf's nameserver. */
  readonly from?: string;
}

/** kdig's words for "asked, got nothing back" (as opposed to kubectl exec failing). */
const NO_REPLY = /failed to query server|response timeout|connection refused|network is unreachable|no reply/i;

/**
 * kdig from inside a pod: the response code and the answer RRs' data. No reply is rcode
 * 'TIMEOUT'; a `kubectl exec` that never ran kdig is 'EXEC' (the DNS path was not tried, so
 * callers must not count it as a DNS failure). Never an exception, so callers can poll.
 */
export async function dig(namespace: string, pod: string, server: string, name: string, type = 'A', tcp = false): Promise<DigAnswer> {
  // server '' asks the pod's own resolv.conf nameserver, as any program in it would.
  const at = server === '' ? [] : [`@${server}`];
  const r = await kubectlRun(['-n', namespace, 'exec', pod, '--', '/usr/bin/kdig', ...at, name, type, '+time=2', '+retry=0', ...(tcp ? ['+tcp'] : [])]);
  const status = /status: ([A-Z]+)/.exec(r.stdout);
  if (status === null) {
    const words = `${r.stdout}\n${r.stderr}`.trim();
    return { rcode: NO_REPLY.test(words) ? 'TIMEOUT' : 'EXEC', answers: [], detail: words.slice(0, 300) };
  }
  const from = /;; From ([^@\s]+)@/.exec(r.stdout)?.[1];
  const answers: string[] = [];
  const section = r.stdout.split(';; ANSWER SECTION:')[1];
  if (section !== undefined) {
    for (const line of section.split('\n').slice(1)) {
      if (line.trim() === '' || line.startsWith(';;')) break;
      const parts = line.trim().split(/\s+/);
      if (parts[3] === type) answers.push(parts.slice(4).join(' '));
    }
  }
  // `from` only where it is the question (resolv.conf's server), so answers compare as before.
  return { rcode: status[1] as string, answers, ...(server === '' && from !== undefined ? { from } : {}) };
}

/** Polls dig until `ok` holds for its answer; the timeout message shows the last answer. */
export async function digUntil(
  namespace: string, pod: string, server: string, name: string, ok: (a: DigAnswer) => boolean, what: string, timeoutMs = 60_000, type = 'A',
): Promise<DigAnswer> {
  let last: DigAnswer | undefined;
  try {
    return await waitFor(
      async () => {
        last = await dig(namespace, pod, server, name, type);
        return ok(last) ? last : undefined;
      },
      { what, timeoutMs, intervalMs: 500 },
    );
  } catch (err) {
    throw new Error(`${err instanceof Error ? err.message : String(err)}; last answer: ${JSON.stringify(last)}`, { cause: err });
  }
}

const STATE_DIR = process.env['DNSSYNC_CLUSTER_DIR'] ?? '/run/dnssync-cluster';

/**
 * What an operator would look at first when a test fails: every pod with its node, restarts
 * and readiness, the namespace's recent events, and each pod's last log lines (and those of the
 * container before its last restart). Written to the cluster's log directory, which
 * `cluster.sh down` keeps, and returned so the caller can print it.
 */
export async function snapshot(test: string, namespace: string): Promise<string> {
  const out: string[] = [`=== e2e failure: ${test} (${new Date().toISOString()})`];
  const section = async (title: string, args: readonly string[]): Promise<void> => {
    const r = await run(bin('kubectl'), args, undefined, 20_000).catch((e: unknown) => ({ code: -1, stdout: '', stderr: String(e) }));
    out.push(`--- ${title}`, (r.stdout + r.stderr).trim().split('\n').slice(-60).join('\n'));
  };
  await section('pods', ['get', 'pods', '-A', '-o', 'wide']);
  await section(`events in ${namespace}`, ['-n', namespace, 'get', 'events', '--sort-by=.lastTimestamp']);
  const pods = await run(bin('kubectl'), ['-n', namespace, 'get', 'pods', '-o', 'jsonpath={.items[*].metadata.name}']);
  for (const p of pods.stdout.split(/\s+/).filter((x) => x !== '')) {
    await section(`logs ${p}`, ['-n', namespace, 'logs', p, '--tail=40']);
    await section(`logs ${p} --previous`, ['-n', namespace, 'logs', p, '--previous', '--tail=25']);
  }
  // Per node: what the agent counted of its upstreams, the DNS conntrack entries and
  // kube-proxy's rules for DNS Services (a forwarding failure is one of these three).
  for (const [n, ip] of [['n1', '10.200.0.11'], ['n2', '10.200.0.12']] as const) {
    const metrics = await fetch(`http://${ip}:9254/metrics`).then((r) => r.text()).catch((e: unknown) => String(e));
    out.push(`--- ${n}: agent upstream metrics`, metrics.split('\n').filter((l) => /^dnssync_agent_(upstream|servfail|forward)/.test(l)).join('\n'));
    const ct = await run('nsenter', [`--net=/run/netns/dnssync-${n}`, '--', 'conntrack', '-L', '-p', 'udp', '--dport', '53']);
    out.push(`--- ${n}: conntrack udp dport 53`, (ct.stdout + ct.stderr).trim().split('\n').slice(-30).join('\n'));
    const nat = await run('nsenter', [`--net=/run/netns/dnssync-${n}`, '--', 'iptables-save', '-t', 'nat']);
    out.push(`--- ${n}: kube-proxy nat rules for DNS`, nat.stdout.split('\n').filter((l) => /kube-dns|dport 53/.test(l)).slice(0, 30).join('\n'));
  }
  const text = out.join('\n');
  const file = join(STATE_DIR, 'logs', `e2e-failure-${test.replace(/[^A-Za-z0-9]+/g, '-').slice(0, 60)}.txt`);
  await writeFile(file, `${text}\n`).catch(() => undefined);
  return text;
}
