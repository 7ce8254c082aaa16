/**
 * A real Kubernetes control plane for tests, as controller-runtime's envtest has: etcd and
 * kube-apiserver on 127.0.0.1 with free ports, TLS, client-certificate authentication, RBAC,
 * a service-account signing key, and the dnssync CRDs installed and Established.
 *
 *   const cp = await startControlPlane();          // fresh temp dir, assets via findAssets()
 *   const kc = new KubeConfig(); kc.loadFromFile(cp.kubeconfig);   // cluster admin
 *   await cp.restartApiServer();                   // fault tests: same ports, same data
 *   await cp.stopEtcd(); ...; await cp.startEtcd();
 *   const ro = await cp.userKubeconfig('dnssync-controller', []);   // only what RBAC grants
 *   const { code, stdout } = await cp.kubectl(['get', 'dnsrecords', '-A']);
 *   await cp.stop();                               // kills both, removes the dir
 *
 * What is not there, on purpose: no controller-manager, scheduler or kubelet. Nothing
 * creates default ServiceAccounts, so the ServiceAccount admission plugin is off (Pods can be
 * created without one); nothing finalizes deleted Namespaces (they stay Terminating); no
 * endpoint reconciler (the advertised 127.0.0.1 is not a valid Endpoints address).
 *
 * Every process is in its own process group, killed on stop(), on process exit, on
 * SIGINT/SIGTERM, and by the kernel if the test runner dies (see process.ts).
 *
 * Most test files do not start one: the vitest global setup starts ONE for the whole run
 * (global-setup.ts) and sharedControlPlane() in shared.ts hands it out; child processes find
 * it in DNSSYNC_TEST_KUBECONFIG and the binaries in DNSSYNC_TEST_ASSETS. Start a private one
 * only to restart or break it. DNSSYNC_KEEP_CONTROLPLANE=1 keeps the directory (logs) on stop.
 */
import { request } from 'node:https';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiextensionsV1Api, ApiException, KubeConfig, loadAllYaml, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { createClientCert, createPki, type Pki } from './certs.js';
import { crdsDir as defaultCrdsDir, findAssets } from './assets.js';
import { ManagedProcess, ProcessExitedError } from './process.js';
import { freePort } from './ports.js';
import { runKubectl, type KubectlResult } from './kubectl.js';
import { waitFor } from '../util/wait.js';

export class ControlPlaneError extends Error {
  override readonly name = 'ControlPlaneError';
}

export interface ControlPlaneOptions {
  /** Working directory for certificates, etcd data, logs and kubeconfigs. Default: a new temp dir. */
  readonly dir?: string;
  /** Directory holding etcd and kube-apiserver. Default: findAssets(). */
  readonly assets?: string;
  /** CRD manifests to install (every *.yaml in it); null installs none. Default: the repo's crds/. */
  readonly crdsDir?: string | null;
  /** Remove `dir` on stop() (default true unless DNSSYNC_KEEP_CONTROLPLANE=1). */
  readonly removeDirOnStop?: boolean;
  /** How long a component may take to become ready (default 60 s; two shared cores are slow). */
  readonly startTimeoutMs?: number;
}

export interface ControlPlane {
  readonly dir: string;
  readonly assets: string;
  /** Admin kubeconfig (user `admin` in group `system:masters`). */
  readonly kubeconfig: string;
  /** https://127.0.0.1:<port> */
  readonly server: string;
  /** http://127.0.0.1:<port> */
  readonly etcdUrl: string;
  /** PEM files, for clients that do their own TLS. */
  readonly caCert: string;
  /** A KubeConfig loaded from `kubeconfig`. */
  kubeConfig(): KubeConfig;
  /** kubectl against this control plane as admin; never throws for a non-zero exit. */
  kubectl(args: readonly string[], input?: string): Promise<KubectlResult>;
  /** A kubeconfig for another user (CN=user, O=groups): it has only the rights RBAC gives it. */
  userKubeconfig(user: string, groups?: readonly string[]): Promise<string>;
  /** Stop/start keep ports, certificates and etcd data, so every kubeconfig stays valid. */
  stopApiServer(opts?: StopOptions): Promise<void>;
  startApiServer(): Promise<void>;
  restartApiServer(opts?: StopOptions): Promise<void>;
  stopEtcd(opts?: StopOptions): Promise<void>;
  startEtcd(): Promise<void>;
  restartEtcd(opts?: StopOptions): Promise<void>;
  /** Stops everything (idempotent) and removes the directory unless kept. */
  stop(): Promise<void>;
}

export interface StopOptions {
  /**
   * true (default): SIGTERM, then SIGKILL after a grace period (10 s for the API server, 2 s
   * for etcd). false: SIGKILL at once, a crash.
   */
  readonly graceful?: boolean;
}

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const assets = opts.assets ?? (await findAssets());
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'dnssync-cp-')));
  await mkdir(dir, { recursive: true });
  const removeDir = opts.removeDirOnStop ?? process.env['DNSSYNC_KEEP_CONTROLPLANE'] !== '1';
  const pki = await createPki(await mkdirp(join(dir, 'pki')));
  const admin = await createClientCert(pki, 'admin', ['system:masters']);
  // Three attempts: a port picked free can be taken by someone else before the server binds it.
  let lastErr: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const ports = { etcd: await freePort(), peer: await freePort(), api: await freePort() };
    const cp = new RunningControlPlane(dir, assets, pki, admin, ports, removeDir, opts.startTimeoutMs ?? 60_000);
    try {
      await cp.startEtcd();
      await cp.startApiServer();
      const crds = opts.crdsDir === undefined ? defaultCrdsDir : opts.crdsDir;
      if (crds !== null) await installCrds(cp.kubeConfig(), crds, opts.startTimeoutMs ?? 60_000);
      return cp;
    } catch (err) {
      lastErr = err;
      await cp.stopProcesses();
      if (!(err instanceof ProcessExitedError) || !(await mentionsPortInUse(dir))) break;
      await rm(join(dir, 'etcd'), { recursive: true, force: true });
    }
  }
  throw new ControlPlaneError(`control plane did not start: ${errMessage(lastErr)} (logs in ${dir})`);
}

async function mkdirp(d: string): Promise<string> {
  await mkdir(d, { recursive: true });
  return d;
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function mentionsPortInUse(dir: string): Promise<boolean> {
  for (const f of ['etcd.log', 'kube-apiserver.log']) {
    const text = await readFile(join(dir, f), 'utf8').catch(() => '');
    if (/address already in use/.test(text)) return true;
  }
  return false;
}

class RunningControlPlane implements ControlPlane {
  readonly kubeconfig: string;
  readonly server: string;
  readonly etcdUrl: string;
  readonly caCert: string;
  private etcd: ManagedProcess | undefined;
  private api: ManagedProcess | undefined;
  private stopped = false;

  constructor(
    readonly dir: string,
    readonly assets: string,
    private readonly pki: Pki,
    admin: { cert: string; key: string },
    private readonly ports: { etcd: number; peer: number; api: number },
    private readonly removeDir: boolean,
    private readonly timeoutMs: number,
  ) {
    this.server = `https://127.0.0.1:${ports.api}`;
    this.etcdUrl = `http://127.0.0.1:${ports.etcd}`;
    this.caCert = pki.caCert;
    this.kubeconfig = join(dir, 'kubeconfig');
    this.admin = admin;
  }

  private readonly admin: { cert: string; key: string };
  private kubeconfigWritten = false;

  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromFile(this.kubeconfig);
    return kc;
  }

  kubectl(args: readonly string[], input?: string): Promise<KubectlResult> {
    return runKubectl({ kubeconfig: this.kubeconfig, assets: this.assets, args, input });
  }

  async userKubeconfig(user: string, groups: readonly string[] = []): Promise<string> {
    const c = await createClientCert(this.pki, user, groups);
    const path = join(this.dir, `kubeconfig-${user.replace(/[^A-Za-z0-9_.-]/g, '_')}`);
    await writeKubeconfig(path, this.server, this.pki.caCert, user, c);
    return path;
  }

  async startEtcd(): Promise<void> {
    if (this.etcd?.running) return;
    const peer = `http://127.0.0.1:${this.ports.peer}`;
    this.etcd = new ManagedProcess({
      name: 'etcd',
      command: join(this.assets, 'etcd'),
      logFile: join(this.dir, 'etcd.log'),
      args: [
        '--name=default',
        `--data-dir=${join(this.dir, 'etcd')}`,
        `--listen-client-urls=${this.etcdUrl}`,
        `--advertise-client-urls=${this.etcdUrl}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=default=${peer}`,
        '--initial-cluster-state=new',
        // Test data is disposable; fsync on every write would make the API slow for nothing.
        '--unsafe-no-fsync',
        '--log-level=warn',
      ],
    });
    await waitReady(this.etcd, this.timeoutMs, `etcd healthy at ${this.etcdUrl}`, async () => {
      const res = await fetch(`${this.etcdUrl}/health`, { signal: AbortSignal.timeout(5_000) });
      const body = (await res.json()) as { health?: string };
      return res.ok && body.health === 'true';
    });
  }

  async startApiServer(): Promise<void> {
    if (this.api?.running) return;
    const p = this.pki;
    this.api = new ManagedProcess({
      name: 'kube-apiserver',
      command: join(this.assets, 'kube-apiserver'),
      logFile: join(this.dir, 'kube-apiserver.log'),
      args: [
        `--etcd-servers=${this.etcdUrl}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${this.ports.api}`,
        `--cert-dir=${join(this.dir, 'apiserver-certs')}`,
        `--tls-cert-file=${p.servingCert}`,
        `--tls-private-key-file=${p.servingKey}`,
        `--client-ca-file=${p.caCert}`,
        '--authorization-mode=RBAC',
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--service-account-key-file=${p.saPub}`,
        `--service-account-signing-key-file=${p.saKey}`,
        '--service-cluster-ip-range=10.96.0.0/16',
        '--allow-privileged=true',
        '--disable-admission-plugins=ServiceAccount',
        '--endpoint-reconciler-type=none',
        '--profiling=false',
      ],
    });
    if (!this.kubeconfigWritten) {
      await writeKubeconfig(this.kubeconfig, this.server, p.caCert, 'admin', this.admin);
      this.kubeconfigWritten = true;
    }
    const [ca, cert, key] = await Promise.all([p.caCert, this.admin.cert, this.admin.key].map((f) => readFile(f)));
    await waitReady(this.api, this.timeoutMs, `kube-apiserver ready at ${this.server}/readyz`, async () => {
      const { status } = await httpsGet(`${this.server}/readyz`, { ca: ca!, cert: cert!, key: key! });
      return status === 200;
    });
  }

  async stopApiServer(opts: StopOptions = {}): Promise<void> {
    await this.api?.stop(opts.graceful === false ? 0 : 10_000);
  }

  async stopEtcd(opts: StopOptions = {}): Promise<void> {
    // etcd waits for the API server's watch streams to drain on SIGTERM (7 s measured); after
    // 2 s a SIGKILL loses nothing, since every write already reached the page cache.
    await this.etcd?.stop(opts.graceful === false ? 0 : 2_000);
  }

  async restartApiServer(opts: StopOptions = {}): Promise<void> {
    await this.stopApiServer(opts);
    await this.startApiServer();
  }

  async restartEtcd(opts: StopOptions = {}): Promise<void> {
    await this.stopEtcd(opts);
    await this.startEtcd();
  }

  async stopProcesses(): Promise<void> {
    // The API server first: with etcd gone it would spend its grace period retrying.
    await this.api?.stop(5_000);
    await this.etcd?.stop(2_000);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.stopProcesses();
    if (this.removeDir) await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * Polls `ready` until it holds; fails at once, naming the process and its log, when the
 * process exits meanwhile (a bad flag or a taken port must not cost the whole timeout).
 */
async function waitReady(proc: ManagedProcess, timeoutMs: number, what: string, ready: () => Promise<boolean>): Promise<void> {
  const died = new AbortController();
  void proc.exited.then(() => {
    try {
      proc.assertRunning();
    } catch (err) {
      died.abort(err);
    }
  });
  await waitFor(ready, { timeoutMs, intervalMs: 100, what, signal: died.signal });
}

function httpsGet(url: string, tls: { ca: Buffer; cert: Buffer; key: Buffer }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ...tls, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timeout`)));
    req.on('error', reject);
    req.end();
  });
}

async function writeKubeconfig(
  path: string,
  server: string,
  caFile: string,
  user: string,
  cred: { cert: string; key: string },
): Promise<void> {
  const b64 = async (f: string): Promise<string> => (await readFile(f)).toString('base64');
  // Data embedded rather than file paths: the file stays valid if copied elsewhere.
  const cfg = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'dnssync-test', cluster: { server, 'certificate-authority-data': await b64(caFile) } }],
    users: [{ name: user, user: { 'client-certificate-data': await b64(cred.cert), 'client-key-data': await b64(cred.key) } }],
    contexts: [{ name: 'dnssync-test', context: { cluster: 'dnssync-test', user, namespace: 'default' } }],
    'current-context': 'dnssync-test',
  };
  // JSON is YAML: kubectl and client-node both read it.
  await writeFile(path, JSON.stringify(cfg, null, 2) + '\n', { mode: 0o600 });
}

/** Creates (or replaces) every CRD in `dir` and waits until each is Established. */
export async function installCrds(kc: KubeConfig, dir: string, timeoutMs = 60_000): Promise<string[]> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  const files = (await readdir(dir)).filter((f) => /\.ya?ml$/.test(f)).sort();
  const names: string[] = [];
  for (const f of files) {
    const docs = loadAllYaml(await readFile(join(dir, f), 'utf8')) as unknown[];
    for (const doc of docs) {
      if (!isCrd(doc)) continue;
      const name = doc.metadata?.name ?? '';
      try {
        await api.createCustomResourceDefinition({ body: doc });
      } catch (err) {
        if (!(err instanceof ApiException) || err.code !== 409) {
          throw new ControlPlaneError(`installing CRD ${name} from ${f}: ${apiErrorText(err)}`);
        }
        const cur = await api.readCustomResourceDefinition({ name });
        doc.metadata = { ...doc.metadata, resourceVersion: cur.metadata?.resourceVersion };
        await api.replaceCustomResourceDefinition({ name, body: doc });
      }
      names.push(name);
    }
  }
  for (const name of names) {
    await waitFor(
      async () => {
        const crd = await api.readCustomResourceDefinition({ name });
        return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
      },
      { timeoutMs, intervalMs: 100, what: `CRD ${name} Established` },
    );
  }
  return names;
}

function isCrd(doc: unknown): doc is V1CustomResourceDefinition {
  return typeof doc === 'object' && doc !== null && (doc as { kind?: unknown }).kind === 'CustomResourceDefinition';
}

function apiErrorText(err: unknown): string {
  if (err instanceof ApiException) {
    const body: unknown = err.body;
    return `HTTP ${err.code}: ${typeof body === 'string' ? body : JSON.stringify(body)}`;
  }
  return errMessage(err);
}
