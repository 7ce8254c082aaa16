/**
 * `dnssync agent --supervise`: a small parent process (PID 1 in the container) that owns the
 * agent's DNS sockets and runs the agent itself as a child process, restarting it at once when
 * it crashes. The sockets are created here, bound but never read, and passed to the child over
 * Node's IPC channel (the kernel file descriptor is shared); when the child dies, the sockets
 * stay open here, so the kernel keeps queueing datagrams in the UDP receive buffer and
 * connections in the TCP accept queue until the next child reads them — a crash becomes a
 * pause, not an outage. What still dies with a crashed child: the TCP connections it had
 * accepted and the queries it was answering. Killing the supervisor (the whole container)
 * loses what it always lost.
 *
 * The handles come from `dgram._createSocketHandle` and `net._createServerHandle`, the calls
 * Node's own cluster module shares sockets with: the public `bind`/`listen` would start
 * reading here too, and this process would steal the child's queries.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { logger } from '../observability/logger.js';
import type { HostPort } from './agent.js';
import { onChildExit, restartCommand, restartDelayMs, STABLE_MS } from './supervisor-policy.js';
import { IDENTITY_ENV, socketKey, SUPERVISED_ENV, type AgentMessage, type InheritedSockets, type SupervisorMessage } from './supervised.js';
import { socketPair, type Closable } from './socket-handles.js';

const log = (): ReturnType<typeof logger> => logger('supervisor');

/** Beside the zones in --state-dir (kept across container restarts): what a restart needs. */
const IDENTITY_FILE = 'supervisor-identity';
export const UPSTREAMS_FILE = 'upstreams.json';

export interface KeeperMode {
  /** The socket keeper's Unix socket (socket-keeper.ts). */
  readonly path: string;
  /** --state-dir: the pod's emptyDir, which outlives the container. */
  readonly stateDir: string;
}

/** Connects to the keeper, retrying while its container starts; undefined if it never answers. */
async function connectKeeper(path: string, deadlineMs: number): Promise<net.Socket | undefined> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const conn = await new Promise<net.Socket | undefined>((resolve) => {
      const c = net.connect(path);
      c.once('connect', () => resolve(c));
      c.once('error', () => resolve(undefined));
    });
    if (conn !== undefined || Date.now() >= until) return conn;
    await new Promise((r) => setTimeout(r, 100));
  }
}

export class Supervisor {
  private readonly sockets = new Map<string, { udp: Closable; tcp: Closable }>();
  private upstreams: string[] | undefined;
  private child: ChildProcess | undefined;
  private stopping = false;
  private crashes = 0;
  private readonly identity: string;

  constructor(
    private readonly script: string,
    private readonly argv: readonly string[],
    private readonly keeper?: KeeperMode,
  ) {
    const fresh = `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}@${Date.now()}`;
    if (keeper === undefined) {
      this.identity = fresh;
      return;
    }
    // With a keeper the sockets outlive this container: a restarted container is the same
    // agent to the hand-over (not a newer one waiting for itself to leave), and must not ask
    // kube-dns for its upstreams through the kube-dns ClusterIP, which is its own held socket.
    const kept = (name: string): string | undefined => {
      try {
        return readFileSync(join(keeper.stateDir, name), 'utf8');
      } catch {
        return undefined;
      }
    };
    const id = kept(IDENTITY_FILE)?.trim();
    this.identity = id !== undefined && /^[A-Za-z0-9-]+@\d+$/.test(id) ? id : fresh;
    if (id !== this.identity) {
      mkdirSync(keeper.stateDir, { recursive: true });
      writeFileSync(join(keeper.stateDir, IDENTITY_FILE), this.identity);
    }
    this.loadUpstreams();
  }

  /** The upstreams the agent wrote beside its zones (keeper mode: it has no channel to us). */
  private loadUpstreams(): void {
    if (this.keeper === undefined) return;
    try {
      const parsed = JSON.parse(readFileSync(join(this.keeper.stateDir, UPSTREAMS_FILE), 'utf8')) as unknown;
      if (Array.isArray(parsed) && parsed.length > 0 && parsed.every((u) => typeof u === 'string')) this.upstreams = parsed as string[];
    } catch {
      /* none yet, or unreadable: the agent resolves them */
    }
  }

  /** Runs children until one exits for good; resolves with the exit code to use. */
  run(): Promise<number> {
    return new Promise<number>((resolve) => {
      const onSignal = (sig: NodeJS.Signals): void => {
        this.stopping = true;
        if (this.child === undefined) resolve(0);
        else this.child.kill(sig);
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      const start = async (restart: boolean): Promise<void> => {
        this.loadUpstreams();
        const cmd = restart || this.upstreams !== undefined ? restartCommand(this.argv, process.env, this.upstreams) : { argv: [...this.argv], env: { ...process.env } };
        const env = { ...cmd.env, [SUPERVISED_ENV]: '1', [IDENTITY_ENV]: this.identity };
        // With a keeper, the agent's IPC channel is a connection to it: the agent asks it for
        // the sockets (socket-keeper.ts). Without one (or if it never answers), this process's.
        const conn = this.keeper === undefined ? undefined : await connectKeeper(this.keeper.path, 30_000);
        if (this.keeper !== undefined && conn === undefined) log().error({ path: this.keeper.path }, 'socket keeper not answering: the DNS sockets are held here, and will not outlive this container');
        if (this.stopping) {
          conn?.destroy();
          resolve(0);
          return;
        }
        const child = conn === undefined
          ? fork(this.script, ['agent', ...cmd.argv], { execArgv: process.execArgv, env, stdio: ['inherit', 'inherit', 'inherit', 'ipc'] })
          : spawn(process.execPath, [...process.execArgv, this.script, 'agent', ...cmd.argv], {
            env: { ...env, NODE_CHANNEL_FD: '3', NODE_CHANNEL_SERIALIZATION_MODE: 'json' },
            stdio: ['inherit', 'inherit', 'inherit', conn],
          });
        conn?.destroy();
        const began = Date.now();
        this.child = child;
        log().info({ pid: child.pid, restart }, 'agent process started');
        child.on('message', (m: AgentMessage) => this.onMessage(child, m));
        child.on('exit', (code, signal) => {
          this.child = undefined;
          const decision = onChildExit(code, this.stopping);
          if (decision === 'exit') {
            for (const s of this.sockets.values()) {
              s.udp.close();
              s.tcp.close();
            }
            resolve(code ?? (this.stopping ? 0 : 1));
            return;
          }
          this.crashes = Date.now() - began > STABLE_MS ? 1 : this.crashes + 1;
          const delay = restartDelayMs(this.crashes);
          log().error({ pid: child.pid, code, signal, crashes: this.crashes, delayMs: delay, sockets: this.sockets.size }, 'agent process died: restarting it; its DNS sockets stay open here meanwhile');
          setTimeout(() => {
            if (this.stopping) resolve(0);
            else void start(true);
          }, delay);
        });
      };
      void start(false);
    });
  }

  private reply(child: ChildProcess, m: SupervisorMessage, handle?: unknown): void {
    if (child.connected) child.send(m, handle as net.Server | undefined);
  }

  private onMessage(child: ChildProcess, m: AgentMessage): void {
    if (m.kind === 'upstreams') {
      this.upstreams = m.upstreams;
      return;
    }
    if (m.kind === 'release') {
      for (const s of this.sockets.values()) {
        s.udp.close();
        s.tcp.close();
      }
      this.sockets.clear();
      log().info('DNS sockets released for the hand-over');
      this.reply(child, { kind: 'released' });
      return;
    }
    try {
      for (const l of m.listen) this.ensure(l, m.reusePort);
    } catch (err) {
      this.reply(child, { kind: 'sockets-error', message: err instanceof Error ? err.message : String(err) });
      return;
    }
    for (const l of m.listen) {
      const s = this.sockets.get(socketKey(l)) as { udp: Closable; tcp: Closable };
      this.reply(child, { kind: 'udp', host: l.host, port: l.port }, s.udp);
      this.reply(child, { kind: 'tcp', host: l.host, port: l.port }, s.tcp);
    }
    this.reply(child, { kind: 'sockets-done' });
  }

  private ensure(l: HostPort, reusePort: boolean): void {
    if (this.sockets.has(socketKey(l))) return;
    this.sockets.set(socketKey(l), socketPair(l.host, l.port, reusePort));
  }
}

export type { InheritedSockets };
