/**
 * A child server process that cannot outlive the test run.
 *
 * Three layers, because each one alone has a hole:
 * - every child leads its own process group (`detached`), and stop() signals the whole group;
 * - a synchronous 'exit' hook (and SIGINT/SIGTERM/SIGHUP hooks) SIGKILLs every group still
 *   running when this Node process ends, for failures that skip the normal teardown;
 * - the child is exec'd through `setpriv --pdeathsig SIGKILL`, so the kernel kills it even when
 *   this process is SIGKILLed and no JavaScript runs at all.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';

export class ProcessExitedError extends Error {
  override readonly name = 'ProcessExitedError';
}

const live = new Set<ManagedProcess>();
let hooksInstalled = false;

function killAllNow(): void {
  for (const p of live) p.killGroupSync('SIGKILL');
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killAllNow);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      killAllNow();
      // Adding a listener disables Node's default "exit on signal"; restore it when we are
      // the only listener, so Ctrl-C still ends the run.
      if (process.listenerCount(sig) === 1) {
        process.off(sig, onSignal);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, onSignal);
  }
}

export interface SpawnOptions {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** stdout and stderr are appended here; it is the place to look when a start fails. */
  readonly logFile: string;
  readonly env?: NodeJS.ProcessEnv;
}

export class ManagedProcess {
  private readonly child: ChildProcess;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  readonly exited: Promise<void>;
  readonly opts: SpawnOptions;

  // No parameter properties: this file also runs under Node's type stripping (process.test.ts).
  constructor(opts: SpawnOptions) {
    this.opts = opts;
    installExitHooks();
    const fd = openSync(opts.logFile, 'a');
    try {
      this.child = spawn('setpriv', ['--pdeathsig', 'SIGKILL', '--', opts.command, ...opts.args], {
        detached: true,
        stdio: ['ignore', fd, fd],
        env: opts.env ?? process.env,
      });
    } finally {
      closeSync(fd);
    }
    live.add(this);
    this.exited = new Promise((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null): void => {
        this.exitInfo ??= { code, signal };
        live.delete(this);
        resolve();
      };
      this.child.once('exit', done);
      this.child.once('error', () => done(null, null));
    });
    // The exit hook handles the end of the run; an unref'd child does not keep Node alive.
    this.child.unref();
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitInfo === undefined && this.child.pid !== undefined;
  }

  /** Throws when the process is gone: used inside readiness polls to fail fast. */
  assertRunning(): void {
    if (this.running) return;
    const how = this.exitInfo
      ? this.exitInfo.signal
        ? `killed by ${this.exitInfo.signal}`
        : `exit code ${this.exitInfo.code}`
      : 'did not start';
    throw new ProcessExitedError(`${this.opts.name} exited (${how}); see ${this.opts.logFile}`);
  }

  killGroupSync(signal: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (pid === undefined || this.exitInfo !== undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // The group is already gone.
    }
  }

  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves once the process has exited. */
  async stop(graceMs = 5_000): Promise<void> {
    if (!this.running) return;
    this.killGroupSync(graceMs > 0 ? 'SIGTERM' : 'SIGKILL');
    let timer: NodeJS.Timeout | undefined;
    const forced = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.killGroupSync('SIGKILL');
        resolve();
      }, graceMs);
    });
    await Promise.race([this.exited, forced]);
    clearTimeout(timer);
    await this.exited;
    // Sweep the group once more in case the leader left children behind.
    const pid = this.child.pid;
    if (pid !== undefined) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // Nothing left: the normal case.
      }
    }
  }
}
