/**
 * A private network namespace for one test, held open by a `sleep` that ends by itself:
 * the node-network tests add interfaces and iptables rules, which must never touch the
 * namespace the test runner (or the machine) uses. Commands run in it through nsenter.
 */
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterEach, beforeEach } from 'vitest';
import { waitFor } from '../util/wait.js';

const exec = promisify(execFile);

export class Netns {
  private constructor(
    private readonly holder: ChildProcess,
    /** The namespace's identity, as /proc/PID/ns/net reads for a process in it. */
    private readonly id: string,
  ) {}

  static async create(lifetimeS = 600): Promise<Netns> {
    const holder = spawn('unshare', ['-n', '--', 'sleep', String(lifetimeS)], { stdio: 'ignore' });
    const pid = holder.pid;
    if (pid === undefined) throw new Error('unshare did not start');
    const mine = await readlink('/proc/self/ns/net');
    const id = await waitFor(async () => {
      const theirs = await readlink(`/proc/${pid}/ns/net`).catch(() => mine);
      return theirs !== mine ? theirs : undefined;
    }, { timeoutMs: 10_000, what: 'the new network namespace' });
    const ns = new Netns(holder, id);
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

  /**
   * Starts `cmd` in the namespace as the leader of a process group of its own (nsenter execs
   * it, keeping the PID), so killTrees can kill it with everything it starts.
   */
  spawn(cmd: string, args: readonly string[], opts: SpawnOptions = {}): ChildProcess {
    return spawn('nsenter', [...this.prefix, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...opts });
  }

  /** The processes in this namespace but the one holding it open: PID and command line. */
  async processes(): Promise<{ pid: number; cmd: string }[]> {
    const out: { pid: number; cmd: string }[] = [];
    for (const name of await readdir('/proc')) {
      const pid = Number(name);
      if (!Number.isInteger(pid) || pid === this.holder.pid) continue;
      // Gone meanwhile, or not ours to read: not in the namespace as far as we can tell.
      if ((await readlink(`/proc/${pid}/ns/net`).catch(() => '')) !== this.id) continue;
      const cmd = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').join(' ').trim();
      out.push({ pid, cmd });
    }
    return out;
  }

  close(): void {
    this.holder.kill('SIGKILL');
  }
}

/** A process a test started (test/node-net/agents.ts's Proc). */
export interface Started {
  readonly proc: ChildProcess;
}

/**
 * SIGKILLs each process's group: the process and every process it started (a supervisor's
 * agent processes, whatever they forked), even when the leader itself has exited. Killing
 * only the one PID left a supervisor's agent running after the suite: with a socket keeper
 * its IPC channel is the keeper's connection, so it does not see its supervisor die.
 */
export function killTrees(started: readonly Started[]): void {
  for (const s of started) {
    if (s.proc.pid === undefined) continue;
    try {
      process.kill(-s.proc.pid, 'SIGKILL');
    } catch {
      // No process of the group is left.
    }
  }
}

export interface TestNetns {
  /** This test's namespace (a new one for every test). */
  readonly ns: Netns;
  /** Keeps `p` to be killed after the test, with every process it started. */
  track<P extends Started>(p: P): P;
  /** Kills every process tracked so far, now. */
  killAll(): void;
}

/**
 * The node-net tests' fixture: a new namespace before each test; after it, every tracked
 * process killed with all it started, then a check that nothing at all is left running in the
 * namespace (a leftover fails the test, and is killed), then the namespace closed.
 */
export function perTestNetns(): TestNetns {
  let current: Netns | undefined;
  const started: Started[] = [];
  beforeEach(async () => {
    current = await Netns.create();
  });
  afterEach(async () => {
    killTrees(started.splice(0));
    const ns = current;
    current = undefined;
    if (!ns) return;
    try {
      await waitFor(
        async () => {
          const left = await ns.processes();
          if (left.length === 0) return true;
          throw new Error(left.map((p) => `${p.pid} ${p.cmd}`).join('; '));
        },
        { what: "no process left running in the test's network namespace", timeoutMs: 10_000, intervalMs: 100 },
      );
    } catch (err) {
      for (const p of await ns.processes()) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          // Gone meanwhile.
        }
      }
      throw err;
    } finally {
      ns.close();
    }
  });
  return {
    get ns(): Netns {
      if (!current) throw new Error('no test namespace outside a test');
      return current;
    },
    track<P extends Started>(p: P): P {
      started.push(p);
      return p;
    },
    killAll(): void {
      killTrees(started.splice(0));
    },
  };
}
