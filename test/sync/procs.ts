/**
 * Real peers for the sync tests: BIND `named` in a temp directory, `dnssync` processes from
 * dist/, dig/kdig. Every process is killed by its handle's stop(); addresses come from our
 * loopback range (127.0.30.0–127.0.39.255) and ports are probed free.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { formatKeyFile, type TsigKey } from '../../src/dns/tsig.js';
import { requireCurrentDist } from '../util/dist.js';
import { waitFor } from '../util/wait.js';

const exec = promisify(execFile);

/** BIND binds only addresses that exist on an interface. */
export async function addLoopback(ip: string): Promise<void> {
  try {
    await exec('ip', ['addr', 'add', `${ip}/32`, 'dev', 'lo']);
  } catch (err) {
    if (!/File exists|already assigned/.test(String((err as { stderr?: string }).stderr ?? err))) throw err;
  }
}

/** A port free for both TCP and UDP on `host`. */
export async function freePort(host: string): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((res, rej) => {
      const s = createServer();
      s.once('error', rej);
      s.listen(0, host, () => {
        const a = s.address();
        s.close(() => res(typeof a === 'object' && a ? a.port : 0));
      });
    });
    const ok = await new Promise<boolean>((res) => {
      const u = createSocket('udp4');
      u.once('error', () => res(false));
      u.bind(port, host, () => u.close(() => res(true)));
    });
    if (ok) return port;
  }
}

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Proc {
  readonly child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

export function startProc(cmd: string, args: readonly string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Proc {
  const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}) });
  let out = '';
  const keep = (b: Buffer): void => {
    out += b.toString();
    if (out.length > 2_000_000) out = out.slice(-1_000_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited = false;
  child.once('exit', () => (exited = true));
  return {
    child,
    output: () => out,
    stop: async () => {
      if (exited) return;
      const done = new Promise<void>((res) => child.once('exit', () => res()));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await done;
      clearTimeout(t);
    },
  };
}

const MAIN = resolve('dist/src/cli/main.js');
const NODE = resolve('node_modules/.bin/node');

/** `dnssync <args>` from the compiled tree (see requireDist). */
export function dnssync(args: readonly string[], env?: Record<string, string>): Proc {
  return startProc(NODE, [MAIN, ...args], env ? { env } : {});
}

/**
 * The compiled tree must already exist (`make test` builds it first). Compiling here would
 * rewrite dist/ while other test files run processes from it, and a process that imports a
 * file tsc is halfway through writing fails to start.
 */
export function requireDist(): void {
  requireCurrentDist();
}

export function writeKey(dir: string, key: TsigKey): string {
  const path = join(dir, 'tsig.key');
  writeFileSync(path, formatKeyFile(key));
  return path;
}

export interface Named {
  readonly proc: Proc;
  readonly dir: string;
  stop(): Promise<void>;
}

/**
 * Starts `named -g` with `zones` (named.conf zone statements) listening on host:port. The
 * key is declared so zone statements can name it.
 */
export async function startNamed(host: string, port: number, key: TsigKey, zones: string, files: Record<string, string> = {}): Promise<Named> {
  await addLoopback(host);
  const { dir, cleanup } = tempDir('dnssync-named-');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const conf = `
key "${key.name}" { algorithm ${key.algorithm}; secret "${key.secret.toString('base64')}"; };
options {
  directory "${dir}";
  pid-file "${dir}/named.pid";
  session-keyfile "${dir}/session.key";
  listen-on port ${port} { ${host}; };
  listen-on-v6 { none; };
  query-source address ${host};
  transfer-source ${host};
  notify-source ${host};
  recursion no;
  dnssec-validation no;
  min-refresh-time 1;
  min-retry-time 1;
  max-retry-time 2;
  notify-delay 0;
};
controls { };
${zones}
`;
  writeFileSync(join(dir, 'named.conf'), conf);
  const proc = startProc('named', ['-g', '-c', join(dir, 'named.conf'), '-n', '1']);
  await waitFor(() => proc.output().includes('running') || proc.child.exitCode !== null, { what: 'named to start', timeoutMs: 20_000 });
  if (proc.child.exitCode !== null) throw new Error(`named failed:\n${proc.output()}`);
  return {
    proc,
    dir,
    stop: async () => {
      await proc.stop();
      cleanup();
    },
  };
}

export async function run(cmd: string, args: readonly string[]): Promise<string> {
  try {
    const { stdout, stderr } = await exec(cmd, args, { timeout: 15_000 });
    return stdout + stderr;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return (e.stdout ?? '') + (e.stderr ?? '');
  }
}

export function keySpec(k: TsigKey): string {
  return `${k.algorithm}:${k.name}:${k.secret.toString('base64')}`;
}

/** dig +short for one name at host:port. */
export async function digShort(host: string, port: number, name: string, type = 'A'): Promise<string[]> {
  const out = await run('dig', [`@${host}`, '-p', String(port), '+short', '+tries=1', '+time=2', name, type]);
  return out.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith(';'));
}
