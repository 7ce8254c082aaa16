/**
 * Agents for the push and scale benches: each a DNS server plus the sync secondary over one
 * store (as `dnssync agent` wires them), on its own loopback address, hosted in a few child
 * processes (test/bench/push-agents.ts) rather than in the process that runs the primary, so
 * the primary's CPU and GC are not the agents' and the reverse. Every agent reports the
 * instant a change lands in its store; the fleet keeps those reports.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TsigKey } from '../../src/dns/tsig.js';

const here = dirname(fileURLToPath(import.meta.url));

export interface AgentAddr {
  host: string;
  syncPort: number;
  dnsPort: number;
}

interface Applied {
  ev: 'applied';
  host: string;
  origin: string;
  serial: number;
  t: number;
}

export interface FleetOptions {
  readonly hosts: readonly string[];
  readonly key: TsigKey;
  /** Child processes to spread the agents over (default 2: one per core here). */
  readonly processes?: number;
  /** One sync port for every agent (as the controller's --agent-sync-port); default: any. */
  readonly syncPort?: number;
  readonly statics?: { origin: string; primary: { host: string; port: number } }[];
  /** Extra node flags for the children (profiling: '--cpu-prof --cpu-prof-dir=/tmp/p'). */
  readonly execArgv?: readonly string[];
  /** Keep every apply event (host → [serial, time] in arrival order) for offline analysis. */
  readonly log?: boolean;
}

/** Wall clock in ms at sub-millisecond resolution, comparable across processes. */
export const now = (): number => performance.timeOrigin + performance.now();

export class AgentFleet {
  private readonly children: ChildProcess[] = [];
  readonly agents: AgentAddr[] = [];
  /** origin → serial → host → time applied */
  private readonly seen = new Map<string, Map<number, Map<string, number>>>();
  /** host → apply events [serial, time], when `log` is set. */
  readonly history = new Map<string, [number, number][]>();
  private waiters: (() => void)[] = [];
  private logging = false;

  static async start(opts: FleetOptions): Promise<AgentFleet> {
    const f = new AgentFleet();
    f.logging = opts.log ?? false;
    const nproc = Math.max(1, Math.min(opts.processes ?? 2, opts.hosts.length));
    // Round-robin, so each process holds every nproc-th address.
    const groups = Array.from({ length: nproc }, (_, p) => opts.hosts.filter((_, i) => i % nproc === p));
    await Promise.all(
      groups.map(
        (g) =>
          new Promise<void>((resolve, reject) => {
            const child = fork(join(here, 'push-agents.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [...(opts.execArgv ?? [])] });
            f.children.push(child);
            child.on('message', (raw) => {
              const m = raw as { ev: 'ready'; agents: AgentAddr[] } | { ev: 'batch'; events: Applied[] };
              if (m.ev === 'ready') {
                f.agents.push(...m.agents);
                resolve();
              } else for (const e of m.events) f.record(e);
            });
            child.once('exit', (code) => reject(new Error(`agent host exited ${code}`)));
            child.send({ cmd: 'start', hosts: g, port: opts.syncPort ?? 0, key: { name: opts.key.name, algorithm: opts.key.algorithm, secret: opts.key.secret.toString('base64') }, statics: opts.statics });
          }),
      ),
    );
    return f;
  }

  /** The agent processes (for CPU accounting). */
  get pids(): (number | undefined)[] {
    return this.children.map((c) => c.pid);
  }

  private record(m: Applied): void {
    if (this.logging) {
      let h = this.history.get(m.host);
      if (!h) this.history.set(m.host, (h = []));
      h.push([m.serial, m.t]);
    }
    let bySerial = this.seen.get(m.origin);
    if (!bySerial) this.seen.set(m.origin, (bySerial = new Map()));
    let hosts = bySerial.get(m.serial);
    if (!hosts) bySerial.set(m.serial, (hosts = new Map()));
    hosts.set(m.host, m.t);
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }

  /** Resolves with each agent's apply time once all of them hold `serial` (applied exactly). */
  async allAt(origin: string, serial: number, timeoutMs = 30_000): Promise<number[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const bySerial = this.seen.get(origin);
      const hosts = bySerial?.get(serial);
      if (bySerial && hosts && hosts.size >= this.agents.length) {
        // Forget this serial and older ones: 100 entries per change would otherwise pile up
        // in the process that also runs the primary, and its GC would show in the latency.
        for (const s of [...bySerial.keys()]) if (s <= serial) bySerial.delete(s);
        return [...hosts.values()];
      }
      if (Date.now() > deadline) throw new Error(`${origin} serial ${serial}: ${hosts?.size ?? 0}/${this.agents.length} agents after ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 100);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null) return resolve();
            c.once('exit', () => resolve());
            c.send({ cmd: 'stop' });
            setTimeout(() => c.kill('SIGKILL'), 5000).unref();
          }),
      ),
    );
  }
}
