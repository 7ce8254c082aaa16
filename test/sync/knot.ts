/**
 * Knot DNS (`knotd`, Debian's knot package) for the interop tests: one server in a temp
 * directory, its config written from the caller's remote/acl/zone clauses, a control socket
 * for `knotc` (zone transactions), logs on stderr at debug level for the assertions.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TsigKey } from '../../src/dns/tsig.js';
import { waitFor } from '../util/wait.js';
import { addLoopback, run, startProc, tempDir, type Proc } from './procs.js';

const exec = promisify(execFile);

export interface Knot {
  readonly proc: Proc;
  readonly dir: string;
  /** `knotc -c <conf> ...args`; throws with knotc's output when it fails. */
  knotc(...args: string[]): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Starts `knotd` on host:port with `clauses` (YAML: remote:, acl:, zone: sections, each
 * zone's storage defaulting to the temp dir) and `files` written into that dir. The key is
 * declared under its own name so clauses can refer to it.
 */
export async function startKnot(host: string, port: number, key: TsigKey, clauses: string, files: Record<string, string> = {}): Promise<Knot> {
  await addLoopback(host);
  const { dir, cleanup } = tempDir('dnssync-knot-');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const conf = join(dir, 'knot.conf');
  writeFileSync(
    conf,
    `server:
    rundir: "${dir}"
    listen: ${host}@${port}
log:
  - target: stderr
    any: debug
database:
    storage: "${dir}"
control:
    listen: "${join(dir, 'knot.sock')}"
key:
  - id: ${key.name}
    algorithm: ${key.algorithm}
    secret: ${key.secret.toString('base64')}
template:
  - id: default
    storage: "${dir}"
${clauses}
`,
  );
  await exec('knotc', ['-c', conf, 'conf-check']);
  const proc = startProc('knotd', ['-c', conf]);
  await waitFor(() => proc.output().includes('server started') || proc.child.exitCode !== null, { what: 'knotd to start', timeoutMs: 15_000 });
  if (proc.child.exitCode !== null) throw new Error(`knotd failed:\n${proc.output()}`);
  return {
    proc,
    dir,
    knotc: async (...args: string[]) => {
      const { stdout, stderr } = await exec('knotc', ['-c', conf, ...args], { timeout: 10_000 });
      return stdout + stderr;
    },
    stop: async () => {
      await proc.stop();
      cleanup();
    },
  };
}

/**
 * A zone's records by AXFR with kdig, one normalised line each (owner, TTL, class, type,
 * rdata; whitespace collapsed), sorted, the closing SOA and the TSIG records dropped — what two servers must
 * agree on record by record. Empty when the transfer fails.
 */
export async function axfrRecords(host: string, port: number, zone: string, keySpec: string): Promise<string[]> {
  const out = await run('kdig', ['-y', keySpec, `@${host}`, '-p', String(port), '+nocomments', '+nostats', zone, 'AXFR']);
  // (Case matters: every TSIG line says NOERROR.)
  if (/;; (ERROR|WARNING)|failed|NOTAUTH|REFUSED/.test(out)) return [];
  const lines = out
    .split('\n')
    .map((l) => l.trim().replace(/\s+/g, ' '))
    // kdig prints each message's TSIG record too: per-message, not zone data.
    .filter((l) => l !== '' && !l.startsWith(';') && !/^\S+ \d+ ANY TSIG /.test(l));
  // The SOA opens and closes an AXFR: keep one.
  const soaAt = lines.findIndex((l) => / SOA /.test(l));
  return lines.filter((l, i) => !/ SOA /.test(l) || i === soaAt).sort();
}
