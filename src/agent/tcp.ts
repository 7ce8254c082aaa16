/**
 * The TCP listener (RFC 7766): length-prefixed messages, several queries pipelined on one
 * connection and answered as each is ready (out of order is allowed), an idle timeout, a cap
 * on outstanding queries per connection (reading pauses at the cap), and caps on connections
 * per client address and in total (more are closed at accept, counted, and logged).
 * Backpressure: a client that pipelines queries but does not read the answers stops being
 * read once its unsent answers pass a bound (TCP flow control then holds it back), and is
 * closed when nothing moves for the idle timeout — memory per connection stays bounded
 * (before this, one such client made the agent buffer 350 MiB).
 * A frame that is not even a readable query header closes the connection: there is no way
 * to answer it and no reason to keep reading from its sender.
 */
import { frame, FrameBuffer } from '../dns/framing.js';
import net from 'node:net';
import type { QueryHandler } from './handler.js';
import { whenQuiet } from './quiet.js';
import type { InflightTracker } from './inflight.js';
import { TCP_CLOSED_STUCK, TCP_OPEN, TCP_REFUSED_PER_CLIENT, TCP_REFUSED_TOTAL } from './stats.js';
import { admitSocket, ConnLimiter, RefusalLog } from '../sync/conn-limit.js';
import { logger } from '../observability/logger.js';

/** Looked up per use: the CLI configures the root logger after modules load. */
const log = (): ReturnType<typeof logger> => logger('tcp');

export interface TcpOptions {
  readonly idleTimeoutMs: number;
  /** Open connections in total; more are closed at accept. */
  readonly maxConnections: number;
  /** Open connections from one client address; more are closed at accept. */
  readonly maxConnectionsPerClient: number;
  readonly maxPipelined: number;
  /**
   * Backpressure: once this many bytes of answers wait unsent on a connection, nothing more
   * is read from it until they drain (and if nothing moves for the idle timeout, it is closed).
   */
  readonly maxUnsentBytes: number;
  /** SO_REUSEPORT, for several worker threads on one address. */
  readonly reusePort?: boolean;
  /** A bound listening-socket handle from the supervisor to listen on instead of binding. */
  readonly inherited?: unknown;
}

export interface TcpListener {
  readonly address: { host: string; port: number };
  /** Stop accepting connections and reading new queries; in-flight answers still go out. */
  stopReceiving(): void;
  /**
   * Hand-over: stop accepting (the listening socket leaves the SO_REUSEPORT group, once its
   * accept queue is empty) but keep answering on open connections until they go idle or
   * close() ends them.
   */
  leave(deadlineMs: number): Promise<void>;
  close(): Promise<void>;
  /** The listening socket's descriptor while open (socket-source.ts). */
  readonly fd: number | undefined;
}

export async function listenTcp(host: string, port: number, handler: QueryHandler, inflight: InflightTracker, opts: TcpOptions): Promise<TcpListener> {
  const conns = new Set<net.Socket>();
  const stats = handler.stats;
  const ipv6 = net.isIPv6(host);
  let receiving = true;

  const limiter = new ConnLimiter({ perClient: opts.maxConnectionsPerClient, total: opts.maxConnections });
  const refusals = new RefusalLog(log, `dns ${host}:${port}`);
  let accepted = 0;
  const server = net.createServer({ noDelay: true }, (sock) => {
    accepted++;
    const admitted = admitSocket(sock, limiter, (client, reason) => {
      stats.add(reason === 'total' ? TCP_REFUSED_TOTAL : TCP_REFUSED_PER_CLIENT, 1);
      refusals.refused(client, reason, limiter.limits);
    });
    if (!admitted) return;
    conns.add(sock);
    stats.add(TCP_OPEN, 1);
    const frames = new FrameBuffer();
    let outstanding = 0;
    /** A frame we cannot answer was seen: answer what is outstanding, then close. */
    let broken = false;
    /** The client sent FIN: answer every whole query it sent, then close. */
    let peerEnded = false;
    /** Unsent output is over the bound: read nothing more until it drains. */
    let blocked = false;
    sock.setTimeout(opts.idleTimeoutMs);
    sock.on('timeout', () => {
      // Nothing read or written for the whole timeout. Unsent output means the client stopped
      // reading (its window is shut): it will not take our answers, so drop the connection
      // and everything queued for it. Otherwise an idle connection with nothing owed is closed.
      if (sock.writableLength > 0) {
        stats.add(TCP_CLOSED_STUCK, 1);
        sock.destroy();
      } else if (outstanding === 0) sock.end();
    });
    sock.on('error', () => sock.destroy());
    sock.on('close', () => {
      conns.delete(sock);
      stats.add(TCP_OPEN, -1);
    });
    sock.on('drain', () => {
      if (!blocked) return;
      blocked = false;
      process();
    });

    const send = (reply: Buffer): void => {
      if (!sock.destroyed && sock.writable) sock.write(frame(reply));
    };
    /** Reads on while the client is within its bounds; pauses (TCP flow control) otherwise. */
    const flow = (): void => {
      if (blocked || outstanding >= opts.maxPipelined || broken) sock.pause();
      else if (sock.isPaused() && receiving) sock.resume();
      if ((broken || (peerEnded && !frames.whole)) && outstanding === 0 && !blocked && !sock.writableEnded) sock.end();
    };
    const finishOne = (): void => {
      outstanding--;
      // Frames read before the pause may be waiting in `frames`.
      process();
    };

    const process = (): void => {
      while (!broken && !blocked && outstanding < opts.maxPipelined) {
        const msg = frames.take();
        if (msg === undefined) break;
        let reply;
        try {
          reply = handler.handle(msg, 'tcp', ipv6);
        } catch (err) {
          log().error({ err }, 'query handler failed');
          reply = null;
        }
        if (reply === null) {
          broken = true;
          break;
        }
        if (!(reply instanceof Promise)) {
          send(reply);
          // Backpressure: a client that does not read its answers gets no more read from it.
          if (sock.writableNeedDrain && sock.writableLength > opts.maxUnsentBytes) blocked = true;
          continue;
        }
        outstanding++;
        inflight.add(
          reply.then((r) => {
            if (r !== null) {
              send(r);
              if (sock.writableNeedDrain && sock.writableLength > opts.maxUnsentBytes) blocked = true;
            }
            finishOne();
          }),
        );
      }
      frames.compact();
      flow();
    };

    sock.on('data', (chunk: Buffer) => {
      if (!receiving) return;
      frames.push(chunk);
      process();
    });
    sock.on('end', () => {
      peerEnded = true;
      flow();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const listening = (): void => {
      server.off('error', reject);
      resolve();
    };
    if (opts.inherited !== undefined) server.listen(opts.inherited as net.Server, listening);
    else server.listen({ host, port, exclusive: false, reusePort: opts.reusePort ?? false }, listening);
  });
  const a = server.address() as net.AddressInfo;
  return {
    address: { host: a.address, port: a.port },
    stopReceiving: () => {
      receiving = false;
      server.close();
    },
    // Closed once its accept queue is empty (quiet.ts): queued connections would be reset.
    leave: (deadlineMs) =>
      whenQuiet(() => accepted, () => true, deadlineMs).then(() => {
        if (server.listening) server.close();
      }),
    close: async () => {
      receiving = false;
      for (const s of conns) s.end();
      await new Promise<void>((resolve) => {
        if (!server.listening) resolve();
        else server.close(() => resolve());
      });
      for (const s of conns) s.destroy();
    },
    get fd() {
      const fd = (server as unknown as { _handle?: { fd?: number } | null })._handle?.fd;
      return server.listening && typeof fd === 'number' && fd >= 0 ? fd : undefined;
    },
  };
}
