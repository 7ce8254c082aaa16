/**
 * A private network namespace for one test, held open by a `sleep` that ends by itself:
 * the node-network tests add interfaces and iptables rules, which must never touch the
 * namespace the test runner (or the machine) uses. Commands run in it through nsenter.
 */
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readlink } from 'node:fs/promises';
import { promisify } from 'node:util';
import { waitFor } from '../util/wait.js';

const exec = promisify(execFile);

export class Netns {
  private constructor(private readonly holder: ChildProcess) {}

  static async create(lifetimeS = 600): Promise<Netns> {
    const holder = spawn('unshare', ['-n', '--', 'sleep', String(lifetimeS)], { stdio: 'ignore' });
    const pid = holder.pid;
    if (pid === undefined) throw new Error('unshare did not start');
    const mine = await readlink('/proc/self/ns/net');
    await waitFor(async () => (await readlink(`/proc/${pid}/ns/net`).catch(() => mine)) !== mine, { timeoutMs: 10_000, what: 'the new network namespace' });
    const ns = new Netns(holder);
    await ns.exec('ip', ['link', 'set', 'lo', 'up']);
    return ns;
  }

  private get prefix(): string[] {
    return ['-t', String(this.holder.pid), '-n', '--'];
  }

  async exec(cmd: string, args: readonly string[]): Promise<string> {
    const { stdout } = await exec('nsenter', [...this.prefix, cmd, ...args], { timeout: 15_000 });
    return stdout;
  }

  /** Like exec, but a failing command is an answer: [exit ok, stdout + stderr]. */
  async try(cmd: string, args: readonly string[]): Promise<[boolean, string]> {
    try {
      return [true, await this.exec(cmd, args)];
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string };
      return [false, `${e.stdout ?? ''}${e.stderr ?? ''}`];
    }
  }

  spawn(cmd: string, args: readonly string[], opts: SpawnOptions = {}): ChildProcess {
    return spawn('nsenter', [...this.prefix, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  }

  close(): void {
    this.holder.kill('SIGKILL');
  }
}
