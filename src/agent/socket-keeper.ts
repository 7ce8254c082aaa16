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
 *
 * Upgrades (a new Pod beside the old, handover.ts): closing a SO_REUSEPORT socket drops the
 * datagrams queued on it and resets the connections in its accept queue, so no socket that
 * serves may ever be closed. The new agent's first request names the old agent's socket
 * source (socket-source.ts); a keeper that holds nothing yet *adopts* the old agent's very
 * sockets instead of creating new ones. It can receive descriptors only on an IPC channel set
 * up at a process start, so it starts its successor (`socket-keeper --adopt`) with a
 * connection to the old agent as that channel, the agent's connection as fd 4, and its own
 * Unix socket path: the successor takes the sockets from the old agent (through a bridge the
 * old agent starts), hands them to the new agent, and is the keeper from then on (this
 * process only waits for it and passes signals on). The old agent's last close then only
 * drops a reference: the kernel sockets, queues and all, go on in the new Pod.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import net from 'node:net';
import { logger } from '../observability/logger.js';
import type { HostPort } from '../dns/address.js';
import { requestSockets, socketKey, type AgentMessage, type SupervisorMessage } from './supervised.js';
import { socketPair, tcpHandle, udpHandle, type Closable } from './socket-handles.js';

const log = (): ReturnType<typeof logger> => logger('socket-keeper');

/** The bridge's environment: which inherited descriptor is which socket. */
export const BRIDGE_ENV = 'DNSSYNC_KEEPER_BRIDGE';
/** Descriptors 0-2 are stdio and 3 the agent connection: sockets start here. */
const FIRST_SOCKET_FD = 4;
/** The adopting successor's environment: the listen addresses it asks the old agent for. */
export const ADOPT_ENV = 'DNSSYNC_KEEPER_ADOPT';
/** In the successor: fd 3 is its IPC channel to the old agent, fd 4 the new agent's connection. */
const ADOPT_AGENT_FD = 4;

/** A DNS address's socket pair as a holder keeps it. */
export interface HeldSocket {
  readonly listen: HostPort;
  readonly reusePort: boolean;
  readonly udp: Closable;
  readonly tcp: Closable;
}

/**
 * Starts a bridge process that sends `sockets` to the process at the other end of `conn` (an
 * IPC channel: the agent, or an adopting keeper) and exits. `conn`: a connection, or a
 * descriptor number of one. The caller closes its own copy of the connection afterwards.
 */
export function spawnBridge(script: string, conn: net.Socket | number, sockets: readonly HeldSocket[]): ChildProcess {
  const fds = sockets.flatMap((s) => [s.udp.fd ?? -1, s.tcp.fd ?? -1]);
  if (fds.some((fd) => fd < 0)) throw new Error('a held socket has no descriptor');
  const layout: BridgeSocket[] = sockets.map((s, i) => ({ host: s.listen.host, port: s.listen.port, reusePort: s.reusePort, udpFd: FIRST_SOCKET_FD + 2 * i, tcpFd: FIRST_SOCKET_FD + 2 * i + 1 }));
  // The bridge gets the connection as its IPC channel (fd 3) and the sockets as fds 4...
  return spawn(process.execPath, [script, 'socket-keeper', '--bridge'], {
    env: { ...process.env, NODE_CHANNEL_FD: '3', NODE_CHANNEL_SERIALIZATION_MODE: 'json', [BRIDGE_ENV]: JSON.stringify(layout) },
    stdio: ['ignore', 'inherit', 'inherit', conn, ...fds],
  });
}

/**
 * Reads newline-delimited JSON requests off a plain connection until `onMessage` returns
 * 'stop' (it then owns the connection); an unreadable line closes it.
 */
export function readRequests(conn: net.Socket, onMessage: (m: AgentMessage) => 'stop' | 'more', what: string): void {
  let buf = '';
  const onData = (chunk: Buffer): void => {
    buf += chunk.toString('utf8');
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const text = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      let m: AgentMessage | undefined;
      try {
        m = JSON.parse(text) as AgentMessage;
      } catch {
        m = undefined;
      }
      if (m === undefined || typeof m !== 'object' || m === null) {
        log().warn({ what }, 'unreadable message: closing the connection');
        conn.destroy();
        return;
      }
      if (onMessage(m) === 'stop') {
        conn.off('data', onData);
        conn.pause();
        return;
      }
    }
  };
  conn.on('data', onData);
  conn.on('error', (err) => log().debug({ err, what }, 'connection error'));
}

/** Connects to a Unix socket, or undefined if nobody answers within `timeoutMs`. */
function connectOnce(path: string, timeoutMs: number): Promise<net.Socket | undefined> {
  return new Promise((resolve) => {
    const c = net.connect(path);
    const timer = setTimeout(() => {
      c.destroy();
      resolve(undefined);
    }, timeoutMs);
    c.once('connect', () => {
      clearTimeout(timer);
      resolve(c);
    });
    c.once('error', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
  });
}

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
  private readonly sockets = new Map<string, HeldSocket>();
  private server: net.Server | undefined;
  private bridges = 0;
  /** The adopting keeper this one handed over to (it serves from then on). */
  private successor: ChildProcess | undefined;
  private readonly successorExit: Promise<number>;
  private successorExited: (code: number) => void = () => undefined;

  constructor(
    private readonly path: string,
    private readonly script: string,
    /** Sockets adopted from an older agent (the successor's start). */
    held: readonly HeldSocket[] = [],
  ) {
    for (const h of held) this.sockets.set(socketKey(h.listen), h);
    this.successorExit = new Promise((resolve) => (this.successorExited = resolve));
  }

  /** Resolves with the successor's exit code once it exits (never, without one). */
  get ended(): Promise<number> {
    return this.successorExit;
  }

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

  /** Closes everything: the agent's sockets go with it. A successor is stopped and waited for. */
  async close(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.successor !== undefined) {
      if (this.successor.exitCode === null && this.successor.signalCode === null) this.successor.kill(signal);
      await this.successorExit;
    }
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
    readRequests(conn, (m) => {
      if (m.kind === 'release') {
        this.release();
        conn.end(line({ kind: 'released' }));
        return 'stop';
      }
      if (m.kind === 'sockets') {
        if (m.adopt !== undefined && this.sockets.size === 0 && this.successor === undefined) void this.adopt(conn, m.listen, m.reusePort, m.adopt);
        else this.serve(conn, m.listen, m.reusePort);
        return 'stop';
      }
      // 'upstreams' and anything newer: not the keeper's business.
      return 'more';
    }, 'keeper');
  }

  /**
   * The new agent of an upgrade asks for its sockets and names the old agent's socket source:
   * start the successor that adopts them (see the file comment). Nobody answering there (the
   * old agent gone meanwhile, or one from before socket sources): new sockets, as before.
   */
  private async adopt(conn: net.Socket, listen: readonly HostPort[], reusePort: boolean, from: string): Promise<void> {
    const old = await connectOnce(from, 2_000);
    if (old === undefined) {
      log().warn({ from }, 'the older agent\'s socket source does not answer: new DNS sockets instead of its own');
      this.serve(conn, listen, reusePort);
      return;
    }
    // The successor listens on our path; ours goes first. Closing the listening handle removes
    // the file at once (libuv unlinks it in uv_close); the callback would wait for this very
    // connection to end, so it is not awaited.
    this.server?.close();
    this.server = undefined;
    const child = spawn(process.execPath, [this.script, 'socket-keeper', '--adopt', '--path', this.path], {
      env: { ...process.env, NODE_CHANNEL_FD: '3', NODE_CHANNEL_SERIALIZATION_MODE: 'json', [ADOPT_ENV]: JSON.stringify({ listen, reusePort }) },
      stdio: ['ignore', 'inherit', 'inherit', old, conn],
    });
    this.successor = child;
    child.on('exit', (code, signal) => {
      if (code !== 0) log().error({ code, signal }, 'the adopting socket keeper exited');
      this.successorExited(code ?? 1);
    });
    child.on('error', (err) => {
      log().error({ err }, 'the adopting socket keeper did not start');
      this.successorExited(1);
    });
    old.destroy();
    conn.destroy();
    log().info({ from, successor: child.pid }, 'adopting the older agent\'s DNS sockets: a successor keeper takes them and serves from now on');
  }

  private release(): void {
    for (const s of this.sockets.values()) {
      s.udp.close();
      s.tcp.close();
    }
    this.sockets.clear();
    log().info('DNS sockets released for the hand-over');
  }

  /** Hands the sockets for `listen` (created if not held yet) to the agent at the end of `conn`. */
  serve(conn: net.Socket | number, listen: readonly HostPort[], reusePort: boolean): void {
    const refuse = (message: string): void => {
      if (typeof conn === 'number') {
        log().error({ message }, 'could not hand the sockets to the agent');
        closeSync(conn);
      } else conn.end(line({ kind: 'sockets-error', message }));
    };
    let bridge: ChildProcess;
    try {
      for (const l of listen) this.ensure(l, reusePort);
      bridge = spawnBridge(this.script, conn, listen.map((l) => this.sockets.get(socketKey(l)) as HeldSocket));
    } catch (err) {
      refuse(err instanceof Error ? `socket keeper: ${err.message}` : String(err));
      return;
    }
    this.bridges++;
    bridge.on('exit', (code) => {
      this.bridges--;
      if (code !== 0) log().warn({ code }, 'socket bridge exited with an error');
    });
    bridge.on('error', (err) => log().error({ err }, 'socket bridge did not start'));
    // Ours is a duplicate: the bridge (and then the agent) hold the connection now.
    if (typeof conn === 'number') closeSync(conn);
    else conn.destroy();
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

/**
 * The adopting successor (`socket-keeper --adopt`): asks the old agent's socket source, on
 * the IPC channel it was started with, for the sockets of the listen addresses; hands them
 * (and new ones for addresses the old agent did not have) to the new agent on fd 4; then
 * keeps them and serves on the keeper's path as any keeper does. Resolves once listening.
 */
export async function startAdopted(path: string, script: string): Promise<SocketKeeper> {
  const req = JSON.parse(process.env[ADOPT_ENV] ?? '{}') as { listen?: HostPort[]; reusePort?: boolean };
  const listen = req.listen ?? [];
  const reusePort = req.reusePort ?? true;
  const held: HeldSocket[] = [];
  if (typeof process.send === 'function') {
    try {
      const got = await requestSockets(listen, reusePort, 15_000);
      for (const l of listen) {
        const s = got.get(socketKey(l));
        if (s !== undefined) held.push({ listen: l, reusePort, udp: s.udp as Closable, tcp: s.tcp as Closable });
      }
    } catch (err) {
      log().warn({ err }, 'could not take the older agent\'s DNS sockets: new ones instead');
    }
  }
  // The channel was for this one exchange; it would keep the process referenced, and nothing
  // more comes on it.
  if (process.connected) process.disconnect();
  log().info({ adopted: held.map((h) => `${h.listen.host}:${h.listen.port}`), asked: listen.length }, held.length > 0 ? 'adopted the older agent\'s DNS sockets' : 'adopted no DNS socket');
  // In a container the parent's death takes the whole PID namespace down; elsewhere (tests,
  // a bare host) nothing would, and an orphan would keep the node's sockets open.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.exit(1);
  }, 500).unref();
  const keeper = new SocketKeeper(path, script, held);
  keeper.serve(ADOPT_AGENT_FD, listen, reusePort);
  await keeper.listen();
  return keeper;
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
