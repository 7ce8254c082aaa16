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
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { getSystemErrorName } from 'node:util';
import { logger } from '../observability/logger.js';
import type { HostPort } from './agent.js';
import { onChildExit, restartCommand, restartDelayMs, STABLE_MS } from './supervisor-policy.js';
import { IDENTITY_ENV, socketKey, SUPERVISED_ENV, type AgentMessage, type InheritedSockets, type SupervisorMessage } from './supervised.js';

const log = (): ReturnType<typeof logger> => logger('supervisor');

// libuv's bind flags, as dgram.js and net.js pass them.
const UV_UDP_REUSEADDR = 4;
const UV_UDP_REUSEPORT = 64;
const UV_TCP_REUSEPORT = 2;

interface Closable {
  close(): void;
}
type CreateUdp = (address: string, port: number, type: 'udp4' | 'udp6', fd: undefined, flags: number) => Closable | number;
type CreateTcp = (address: string, port: number, addressType: 4 | 6, fd: undefined, flags: number) => Closable | number;

function createUdp(host: string, port: number, reusePort: boolean): Closable {
  const create = (dgram as unknown as { _createSocketHandle: CreateUdp })._createSocketHandle;
  // Deprecated for applications (DEP0112) but what cluster uses: keep its warning off stderr.
  const quiet = process.noDeprecation;
  process.noDeprecation = true;
  try {
    const h = create(host, port, net.isIPv6(host) ? 'udp6' : 'udp4', undefined, reusePort ? UV_UDP_REUSEADDR | UV_UDP_REUSEPORT : 0);
    if (typeof h === 'number') throw new Error(`bind ${getSystemErrorName(h)} ${host}:${port} (udp)`);
    return h;
  } finally {
    process.noDeprecation = quiet;
  }
}

function createTcp(host: string, port: number, reusePort: boolean): Closable {
  const create = (net as unknown as { _createServerHandle: CreateTcp })._createServerHandle;
  const h = create(host, port, net.isIPv6(host) ? 6 : 4, undefined, reusePort ? UV_TCP_REUSEPORT : 0);
  if (typeof h === 'number') throw new Error(`bind ${getSystemErrorName(h)} ${host}:${port} (tcp)`);
  return h;
}

export class Supervisor {
  private readonly sockets = new Map<string, { udp: Closable; tcp: Closable }>();
  private upstreams: string[] | undefined;
  private child: ChildProcess | undefined;
  private stopping = false;
  private crashes = 0;
  private readonly identity = `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}@${Date.now()}`;

  constructor(
    private readonly script: string,
    private readonly argv: readonly string[],
  ) {}

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
      const start = (restart: boolean): void => {
        const cmd = restart ? restartCommand(this.argv, process.env, this.upstreams) : { argv: [...this.argv], env: { ...process.env } };
        const child = fork(this.script, ['agent', ...cmd.argv], {
          execArgv: process.execArgv,
          env: { ...cmd.env, [SUPERVISED_ENV]: '1', [IDENTITY_ENV]: this.identity },
          stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
        });
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
            else start(true);
          }, delay);
        });
      };
      start(false);
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
    const udp = createUdp(l.host, l.port, reusePort);
    let tcp: Closable;
    try {
      tcp = createTcp(l.host, l.port, reusePort);
    } catch (err) {
      udp.close();
      throw err;
    }
    this.sockets.set(socketKey(l), { udp, tcp });
  }
}

export type { InheritedSockets };
