/**
 * Helpers for the chart tests: find helm (beside kube-apiserver in the control-plane assets),
 * render the chart with a named value set, split the output into objects.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAllYaml } from '@kubernetes/client-node';
import { findAssets, repoRoot } from '../controlplane/assets.js';

export const chartDir = join(repoRoot, 'deploy', 'helm', 'dnssync');
export const valuesDir = join(repoRoot, 'test', 'deploy', 'values');

/** The value sets every structural and API-server test runs over; `defaults` uses none. */
export const VALUE_SETS = ['defaults', 'hardened', 'monitoring', 'custom-agent', 'single'] as const;
export type ValueSet = (typeof VALUE_SETS)[number];

/**
 * What a user of `helm template` (or lint) must add: with no cluster to look the kube-dns
 * Service up in, the chart needs its ClusterIP as a value (transparent mode, the default).
 */
export const NO_CLUSTER: readonly string[] = ['--set', 'agent.kubeDNS.clusterIP=10.96.0.10'];

export function valuesArgs(set: ValueSet): string[] {
  return [...NO_CLUSTER, ...(set === 'defaults' ? [] : ['-f', join(valuesDir, `${set}.yaml`)])];
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export class CommandError extends Error {
  override readonly name = 'CommandError';
}

/** Runs a command; never throws for a non-zero exit (tests assert on refusals). */
export function run(command: string, args: readonly string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, { timeout: opts.timeoutMs ?? 60_000, maxBuffer: 32 << 20, env: opts.env ?? process.env, cwd: opts.cwd }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') {
        reject(new CommandError(`${command} ${args.join(' ')}: ${err.message}`));
        return;
      }
      resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
    });
    child.stdin?.end(opts.input ?? '');
  });
}

let helmPath: Promise<string> | undefined;

/** helm from the control-plane assets (KUBEBUILDER_ASSETS or the build cache). */
export function helmBin(): Promise<string> {
  helmPath ??= findAssets().then((dir) => join(dir, 'helm'));
  return helmPath;
}

// Helm keeps caches and repository config under HOME; tests get their own.
const helmHome = mkdtempSync(join(tmpdir(), 'dnssync-helm-'));
export const helmEnv: NodeJS.ProcessEnv = {
  ...process.env,
  HELM_CACHE_HOME: join(helmHome, 'cache'),
  HELM_CONFIG_HOME: join(helmHome, 'config'),
  HELM_DATA_HOME: join(helmHome, 'data'),
};

export async function helm(args: readonly string[]): Promise<RunResult> {
  return run(await helmBin(), args, { env: helmEnv });
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

// loadAllYaml turns objects of built-in API groups into client-node models, renaming fields
// (`from` becomes `_from`) and dropping unknown ones. The tests want the manifest as written,
// so every top-level apiVersion is moved into a group client-node does not know, and back.
const RAW_GROUP = 'raw.dnssync.test/';

export function parseObjects(yaml: string): K8sObject[] {
  const disguised = yaml.replace(/^apiVersion:\s*"?([^"\s]+)"?\s*$/gm, `apiVersion: ${RAW_GROUP}$1`);
  return (loadAllYaml(disguised) as unknown[])
    .filter((o): o is K8sObject => typeof o === 'object' && o !== null && 'kind' in o)
    .map((o) => ({ ...o, apiVersion: o.apiVersion.slice(RAW_GROUP.length) }));
}

/** `helm template` of the chart; throws with helm's message when rendering fails. */
export async function render(set: ValueSet, opts: { release?: string; namespace?: string; extra?: readonly string[] } = {}): Promise<{ yaml: string; objects: K8sObject[] }> {
  const r = await helm(['template', opts.release ?? 'dnssync', chartDir, '--namespace', opts.namespace ?? 'dnssync-system', ...valuesArgs(set), ...(opts.extra ?? [])]);
  if (r.code !== 0) throw new CommandError(`helm template (${set}) failed: ${r.stderr}`);
  return { yaml: r.stdout, objects: parseObjects(r.stdout) };
}

export function find(objects: readonly K8sObject[], kind: string, nameSuffix = ''): K8sObject {
  const o = objects.find((x) => x.kind === kind && x.metadata.name.endsWith(nameSuffix));
  if (!o) throw new Error(`no ${kind} *${nameSuffix} among ${objects.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`);
  return o;
}
