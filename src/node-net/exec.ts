/**
 * Runs `ip` and `iptables`: the thin I/O shell under the node-network code. A command that
 * fails is a result, not an exception — the callers decide what a failure means (a rule
 * that is missing is a normal answer to `iptables -C`).
 */
import { execFile } from 'node:child_process';

export interface CommandResult {
  readonly ok: boolean;
  readonly stdout: string;
  readonly stderr: string;
}

export type Runner = (cmd: string, args: readonly string[]) => Promise<CommandResult>;

/** A command that hangs (a stuck xtables lock) must not hang the repair loop. */
const TIMEOUT_MS = 10_000;

export const run: Runner = (cmd, args) =>
  new Promise((resolve) => {
    execFile(cmd, [...args], { timeout: TIMEOUT_MS, encoding: 'utf8' }, (err, stdout, stderr) => {
      const spawnError = err !== null && typeof (err as NodeJS.ErrnoException).code === 'string' ? (err as NodeJS.ErrnoException).message : '';
      resolve({ ok: err === null, stdout, stderr: (stderr || spawnError).trim() });
    });
  });
