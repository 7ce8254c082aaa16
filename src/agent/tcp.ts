/**
 * The TCP listener (RFC 7766): length-prefixed messages, several queries pipelined on one
 * connection and answered as each is ready (out of order is allowed), an idle timeout, a cap
 * on outstanding queries per connection (reading pauses at the cap) and on connections.
 * A frame that is not even a readable query header closes the connection: there is no way
 * to answer it and no reason to keep reading from its sender.
 */
import net from 'node:net';
import type { QueryHandler } from './handler.js';
import type { InflightTracker } from './inflight.js';
import { logger } from '../observability/logger.js';

/** Looked up per use: the CLI configures the root logger after modules load. */
const log = (): ReturnType<typeof logger> => logger('tcp');

export interface TcpOptions {
  readonly idleTimeoutMs: number;
  readonly maxConnections: number;
  readonly maxPipelined: number;
  /** SO_REUSEPORT, for several worker threads on one address. */
  readonly reusePort?: boolean;
}

export interface TcpListener {
  readonly address: { host: string; port: number };
  /** Stop accepting connections and reading new queries; in-flight answers still go out. */
  stopReceiving(): void;
  close(): Promise<void>;
}

function frame(msg: Buffer): Buffer {
  const out = Buffer.allocUnsafe(msg.length + 2);
  out.writeUInt16BE(msg.length, 0);
  msg.copy(out, 2);
  return out;
}

export async function listenTcp(host: string, port: number, handler: QueryHandler, inflight: InflightTracker, opts: TcpOptions): Promise<TcpListener> {
  const conns = new Set<net.Socket>();
  let receiving = true;

  const server = net.createServer({ noDelay: true }, (sock) => {
    conns.add(sock);
    let acc: Buffer = Buffer.alloc(0);
    let outstanding = 0;
    let closing = false;
    sock.setTimeout(opts.idleTimeoutMs);
    sock.on('timeout', () => {
      // Idle: nothing read or written for the whole timeout. Outstanding answers still count
      // as activity we owe the client, so only an idle connection with none is closed.
      if (outstanding === 0) sock.end();
    });
    sock.on('error', () => sock.destroy());
    sock.on('close', () => conns.delete(sock));

    const send = (reply: Buffer): Promise<void> =>
      new Promise((resolve) => {
        if (!sock.destroyed && sock.writable) sock.write(frame(reply), () => resolve());
        else resolve();
      });
    const finishOne = (): void => {
      outstanding--;
      if (sock.isPaused() && outstanding < opts.maxPipelined && !closing) sock.resume();
      if (closing && outstanding === 0) sock.end();
    };

    const process = (): void => {
      while (acc.length >= 2 && !closing) {
        const n = acc.readUInt16BE(0);
        if (acc.length < 2 + n) break;
        const msg = acc.subarray(2, 2 + n);
        acc = acc.subarray(2 + n);
        let reply;
        try {
          reply = handler.handle(msg, 'tcp');
        } catch (err) {
          log().error({ err }, 'query handler failed');
          reply = null;
        }
        if (reply === null) {
          closing = true;
          if (outstanding === 0) sock.end();
          break;
        }
        if (!(reply instanceof Promise)) {
          void send(reply);
          continue;
        }
        outstanding++;
        inflight.add(
          reply.then(async (r) => {
            if (r !== null) await send(r);
            finishOne();
          }),
        );
        if (outstanding >= opts.maxPipelined) sock.pause();
      }
      // Keep only what is left of a partial frame, not the whole chunk it came in.
      if (acc.length > 0 && acc.byteOffset !== 0) acc = Buffer.from(acc);
    };

    sock.on('data', (chunk: Buffer) => {
      if (!receiving) return;
      acc = acc.length === 0 ? chunk : Buffer.concat([acc, chunk]);
      process();
    });
    sock.on('end', () => {
      closing = true;
      if (outstanding === 0) sock.end();
    });
  });
  server.maxConnections = opts.maxConnections;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, exclusive: false, reusePort: opts.reusePort ?? false }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address() as net.AddressInfo;
  return {
    address: { host: a.address, port: a.port },
    stopReceiving: () => {
      receiving = false;
      server.close();
    },
    close: async () => {
      receiving = false;
      for (const s of conns) s.end();
      await new Promise<void>((resolve) => {
        if (!server.listening) resolve();
        else server.close(() => resolve());
      });
      for (const s of conns) s.destroy();
    },
  };
}
