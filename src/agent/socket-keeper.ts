/**
 * `dnssync socket-keeper`: holds the agent's DNS sockets in a container of their own (the
 * chart's `socket-keeper` sidecar), so they outlive the agent's whole container — a SIGKILL of
 * the container, an OOM kill, a liveness restart — not just its agent process (what the
 * in-container supervisor covers). While no agent reads them the kernel keeps queueing UDP
 * queries in the receive buffer and TCP connections in the accept queue; the restarted
 * agent takes the very same sockets and answers what waited.
 *
 * Handing a socket to another container needs a Unix socket and SCM_RIGHTS, which Node only
 * does on an IPC channel, and a process gets one only at start (NODE_CHANNEL_FD). So:
 *   - the agent's supervisor connects to the keeper's Unix socket (a volume both containers
 *     mount) and starts the agent process with that connection as its IPC channel;
 *   - the agent asks for its sockets as it would ask the supervisor (supervised.ts): the
 *     keeper reads that first message off the connection itself, creates the sockets if it
 *     holds none yet (bound, never read: socket-handles.ts), and starts a short-lived bridge
 *     process with the connection as *its* IPC channel and the sockets as inherited
 *     descriptors; the bridge sends them to the agent and exits;
 *   - before a hand-over the agent has the keeper close its copies over a plain connection
 *     (`release`), as it has the supervisor do, so unread copies keep no share of the traffic.
 */
import { spawn } from 'node:child_process';
import { unlink } from 'node:fs/promises';
import net from 'node:net';
import { logger } from '../observability/logger.js';
import type { HostPort } from './agent.js';
import { socketKey, type AgentMessage, type SupervisorMessage } from './supervised.js';
import { socketPair, tcpHandle, udpHandle, type Closable } from './socket-handles.js';

const log = (): ReturnType<typeof logger> => logger('socket-keeper');

/** The bridge's environment: which inherited descriptor is which socket. */
export const BRIDGE_ENV = 'DNSSYNC_KEEPER_BRIDGE';
/** Descriptors 0-2 are stdio and 3 the agent connection: sockets start here. */
const FIRST_SOCKET_FD = 4;

interface BridgeSocket {
  readonly host: string;
  readonly port: number;
  readonly reusePort: boolean;
  readonly udpFd: number;
  readonly tcpFd: number;
}

/** One message line as Node's IPC 'json' serialization writes it. */
function line(m: SupervisorMessage): string {
  return `${JSON.stringify(m)}\n`;
}

export class SocketKeeper {
  private readonly sockets = new Map<string, { listen: HostPort; reusePort: boolean; udp: Closable; tcp: Closable }>();
  private server: net.Server | undefined;
  private bridges = 0;

  constructor(
    private readonly path: string,
    private readonly script: string,
  ) {}

  get held(): number {
    return this.sockets.size;
  }

  async listen(): Promise<void> {
    // A keeper restarted in place finds its predecessor's socket file.
    await unlink(this.path).catch(() => undefined);
    const server = net.createServer((conn) => this.onConnection(conn));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    log().info({ path: this.path }, 'socket keeper listening');
  }

  /** Closes everything: the agent's sockets go with it. */
  async close(): Promise<void> {
    for (const s of this.sockets.values()) {
      s.udp.close();
      s.tcp.close();
    }
    this.sockets.clear();
    await new Promise<void>((resolve) => (this.server === undefined ? resolve() : this.server.close(() => resolve())));
  }

  /** Bridges still running (a clean exit waits for them). */
  get busy(): boolean {
    return this.bridges > 0;
  }

  private onConnection(conn: net.Socket): void {
    let buf = '';
    const onData = (chunk: Buffer): void => {
      buf += chunk.toString('utf8');
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const text = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let m: AgentMessage | { kind: 'release-plain' } | undefined;
        try {
          m = JSON.parse(text) as AgentMessage;
        } catch {
          m = undefined;
        }
        if (m === undefined) {
          log().warn('unreadable message on the keeper socket: closing the connection');
          conn.destroy();
          return;
        }
        if (m.kind === 'release') {
          this.release();
          conn.end(line({ kind: 'released' }));
          return;
        }
        if (m.kind === 'sockets') {
          conn.off('data', onData);
          conn.pause();
          this.serve(conn, m.listen, m.reusePort);
          return;
        }
        // 'upstreams' and anything newer: not the keeper's business.
      }
    };
    conn.on('data', onData);
    conn.on('error', (err) => log().debug({ err }, 'keeper connection error'));
  }

  private release(): void {
    for (const s of this.sockets.values()) {
      s.udp.close();
      s.tcp.close();
    }
    this.sockets.clear();
    log().info('DNS sockets released for the hand-over');
  }

  private serve(conn: net.Socket, listen: readonly HostPort[], reusePort: boolean): void {
    try {
      for (const l of listen) this.ensure(l, reusePort);
    } catch (err) {
      conn.end(line({ kind: 'sockets-error', message: err instanceof Error ? err.message : String(err) }));
      return;
    }
    const held = listen.map((l) => this.sockets.get(socketKey(l)) as { udp: Closable; tcp: Closable });
    const fds = held.flatMap((s) => [s.udp.fd ?? -1, s.tcp.fd ?? -1]);
    if (fds.some((fd) => fd < 0)) {
      conn.end(line({ kind: 'sockets-error', message: 'socket keeper: a held socket has no descriptor' }));
      return;
    }
    const layout: BridgeSocket[] = listen.map((l, i) => ({ host: l.host, port: l.port, reusePort, udpFd: FIRST_SOCKET_FD + 2 * i, tcpFd: FIRST_SOCKET_FD + 2 * i + 1 }));
    // The bridge gets the connection as its IPC channel (fd 3) and the sockets as fds 4...
    const bridge = spawn(process.execPath, [this.script, 'socket-keeper', '--bridge'], {
      env: { ...process.env, NODE_CHANNEL_FD: '3', NODE_CHANNEL_SERIALIZATION_MODE: 'json', [BRIDGE_ENV]: JSON.stringify(layout) },
      stdio: ['ignore', 'inherit', 'inherit', conn, ...fds],
    });
    this.bridges++;
    bridge.on('exit', (code) => {
      this.bridges--;
      if (code !== 0) log().warn({ code }, 'socket bridge exited with an error');
    });
    bridge.on('error', (err) => log().error({ err }, 'socket bridge did not start'));
    // Ours is a duplicate: the bridge (and then the agent) hold the connection now.
    conn.destroy();
    log().info({ sockets: listen.length, bridge: bridge.pid }, 'DNS sockets handed to an agent');
  }

  private ensure(l: HostPort, reusePort: boolean): void {
    if (this.sockets.has(socketKey(l))) return;
    this.sockets.set(socketKey(l), { listen: l, reusePort, ...socketPair(l.host, l.port, reusePort) });
    log().info({ listen: `${l.host}:${l.port}` }, 'DNS socket created');
  }
}

/**
 * The bridge: sends the inherited sockets to the agent on the other end of its IPC channel,
 * answering the agent's pending `sockets` request, then exits (the keeper keeps its copies).
 */
export async function runBridge(): Promise<number> {
  const layout = JSON.parse(process.env[BRIDGE_ENV] ?? '[]') as BridgeSocket[];
  if (typeof process.send !== 'function') return 2;
  // A 'message' listener keeps the channel referenced: without one this process could end
  // before the agent acknowledges the last handle, with the rest still queued behind it.
  const keepAlive = (): void => undefined;
  process.on('message', keepAlive);
  const send = (m: SupervisorMessage, handle?: Closable): Promise<void> =>
    new Promise((resolve, reject) => {
      (process.send as (m: unknown, h: unknown, o: unknown, cb: (e: Error | null) => void) => boolean)(m, handle, {}, (e) => (e ? reject(e) : resolve()));
    });
  try {
    for (const s of layout) {
      await send({ kind: 'udp', host: s.host, port: s.port }, udpHandle(s.host, s.port, s.reusePort, s.udpFd));
      await send({ kind: 'tcp', host: s.host, port: s.port }, tcpHandle(s.host, s.port, s.reusePort, s.tcpFd));
    }
    await send({ kind: 'sockets-done' });
  } catch (err) {
    log().error({ err }, 'could not hand the sockets to the agent');
    return 1;
  }
  // A handle is acknowledged by the receiver before the next is sent; after the last message
  // nothing is pending, and leaving closes only our duplicates.
  process.off('message', keepAlive);
  process.disconnect();
  return 0;
}

/** Has the keeper close its copies of the DNS sockets (before a hand-over to a newer agent). */
export function releaseKept(path: string, timeoutMs = 5_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const conn = net.connect(path);
    let buf = '';
    const timer = setTimeout(() => {
      conn.destroy();
      reject(new Error(`socket keeper did not answer 'release' within ${timeoutMs} ms`));
    }, timeoutMs);
    conn.on('connect', () => conn.write(`${JSON.stringify({ kind: 'release' } satisfies AgentMessage)}\n`));
    conn.on('data', (c: Buffer) => {
      buf += c.toString('utf8');
      if (buf.includes('"released"')) {
        clearTimeout(timer);
        conn.destroy();
        resolve();
      }
    });
    conn.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
