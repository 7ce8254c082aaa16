/**
 * A real unbound for the forwarding tests and the bench: its own config in a temp dir, a
 * static local zone so it needs no internet, a unix control socket for its statistics.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from '../util/wait.js';
import { ensureLoopback, freePort } from './helpers.js';
import dgram from 'node:dgram';

const exec = promisify(execFile);

export interface Unbound {
  readonly host: string;
  readonly port: number;
  readonly proc: ChildProcess;
  /** unbound-control stats_noreset as a map (total.num.queries, num.query.tcp, ...). */
  stats(): Promise<Map<string, number>>;
  stop(): Promise<void>;
}

export interface UnboundOptions {
  readonly host: string;
  /** `local-data` lines (without quotes), e.g. 'a.fwd.test. 5 IN A 192.0.2.1'. */
  readonly localData: readonly string[];
  /** `local-zone` lines, e.g. 'fwd.test. static'. */
  readonly localZones: readonly string[];
  readonly threads?: number;
  /** Extra `server:` lines. */
  readonly extra?: readonly string[];
  /** Default "iterator"; "validator iterator" validates (with a trust anchor in `extra`). */
  readonly moduleConfig?: string;
  /** Whole clauses after `server:` (auth-zone:, forward-zone:), one line each. */
  readonly clauses?: readonly string[];
}

function quote(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

export async function startUnbound(opts: UnboundOptions): Promise<Unbound> {
  await ensureLoopback(opts.host);
  const dir = await mkdtemp(join(tmpdir(), 'dnssync-unbound-'));
  const port = await freePort(opts.host);
  const ctl = join(dir, 'ctl.sock');
  const conf = join(dir, 'unbound.conf');
  const lines = [
    'server:',
    `  interface: ${opts.host}`,
    `  port: ${port}`,
    '  do-ip6: no',
    '  access-control: 127.0.0.0/8 allow',
    '  username: ""',
    '  chroot: ""',
    `  directory: "${dir}"`,
    `  pidfile: "${join(dir, 'unbound.pid')}"`,
    '  use-syslog: no',
    '  logfile: ""',
    '  verbosity: 0',
    '  do-daemonize: no',
    `  num-threads: ${opts.threads ?? 1}`,
    `  module-config: "${opts.moduleConfig ?? 'iterator'}"`,
    '  extended-statistics: yes',
    '  statistics-cumulative: yes',
    '  local-zone: "probe.dnssync." static',
    ...opts.localZones.map((z) => `  local-zone: ${z.replace(/^(\S+)/, '"$1"')}`),
    ...opts.localData.map((d) => `  local-data: ${quote(d)}`),
    ...(opts.extra ?? []).map((l) => `  ${l}`),
    ...(opts.clauses ?? []),
    'remote-control:',
    '  control-enable: yes',
    `  control-interface: ${ctl}`,
  ];
  await writeFile(conf, lines.join('\n') + '\n');
  await exec('unbound-checkconf', [conf]);
  const proc = spawn('unbound', ['-d', '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  let exited = false;
  proc.on('exit', () => (exited = true));
  await waitFor(
    async () => {
      if (exited) throw new Error(`unbound exited: ${stderr}`);
      return (await probe(opts.host, port)) ? true : undefined;
    },
    { what: `unbound on ${opts.host}:${port}`, timeoutMs: 10_000 },
  );
  return {
    host: opts.host,
    port,
    proc,
    async stats() {
      const { stdout } = await exec('unbound-control', ['-c', conf, 'stats_noreset']);
      const m = new Map<string, number>();
      for (const line of stdout.split('\n')) {
        const [k, v] = line.split('=');
        if (k !== undefined && v !== undefined) m.set(k, Number(v));
      }
      return m;
    },
    async stop() {
      if (exited) return;
      const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      proc.kill('SIGTERM');
      await gone;
    },
  };
}

/** unbound answers its own static probe zone at once, with no recursion. */
function probe(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    const t = setTimeout(() => {
      s.close();
      resolve(false);
    }, 300);
    s.on('message', () => {
      clearTimeout(t);
      s.close();
      resolve(true);
    });
    s.on('error', () => undefined);
    // id 1, RD, one question: "probe.dnssync. IN SOA"
    const q = Buffer.from([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 5, ...Buffer.from('probe'), 7, ...Buffer.from('dnssync'), 0, 0, 6, 0, 1]);
    s.send(q, port, host);
  });
}
