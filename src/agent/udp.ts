/**
 * The UDP listener. Each datagram is handled on the spot; answers from memory are sent
 * before the next datagram is read, forwarded ones when their promise settles. Nothing a
 * client sends can throw out of here: the handler classifies bad input, and any bug that
 * still throws is counted and dropped rather than taking the process down.
 */
import dgram from 'node:dgram';
import { literalLookup } from '../dns/literal-lookup.js';
import { isIPv6 } from 'node:net';
import type { QueryHandler } from './handler.js';
import { whenQuiet } from './quiet.js';
import type { InflightTracker } from './inflight.js';
import { logger } from '../observability/logger.js';

/** Looked up per use: the CLI configures the root logger after modules load. */
const log = (): ReturnType<typeof logger> => logger('udp');

export interface UdpListener {
  readonly address: { host: string; port: number };
  /** Stop answering new datagrams (in-flight answers still go out). */
  stopReceiving(): void;
  /**
   * Hand-over: leave the shared (SO_REUSEPORT) socket group. Keeps answering whatever still
   * arrives, and closes once its queue is empty and no forward is in flight (quiet.ts; or at
   * `deadlineMs`): a closed socket is out of the group at once, while one that merely stopped
   * reading would keep getting its share of datagrams and drop them.
   */
  leave(deadlineMs: number): Promise<void>;
  close(): Promise<void>;
  /** The socket's descriptor while open (to offer it to a newer agent: socket-source.ts). */
  readonly fd: number | undefined;
}

/** dgram keeps its handle under an internal symbol (the `_handle` getter is deprecated). */
function udpFd(socket: dgram.Socket): number | undefined {
  const state = Object.getOwnPropertySymbols(socket).find((k) => k.description === 'state symbol');
  const fd = state === undefined ? undefined : (socket as unknown as Record<symbol, { handle?: { fd?: number } } | undefined>)[state]?.handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/**
 * `inherited`: a bound socket handle from the supervisor (supervisor.ts) to read instead of
 * binding one; the same kernel socket outlives this process.
 */
export async function listenUdp(host: string, port: number, handler: QueryHandler, inflight: InflightTracker, reusePort: boolean, inherited?: unknown): Promise<UdpListener> {
  const ipv6 = isIPv6(host);
  const socket = dgram.createSocket({ type: ipv6 ? 'udp6' : 'udp4', reuseAddr: reusePort, reusePort, lookup: literalLookup });
  let receiving = true;
  let closed = false;
  let forwarding = 0;
  let received = 0;
  socket.on('message', (msg, rinfo) => {
    received++;
    if (!receiving) return;
    let reply;
    try {
      reply = handler.handle(msg, 'udp', ipv6, rinfo.address);
    } catch (err) {
      log().error({ err }, 'query handler failed');
      return;
    }
    if (reply === null) return;
    if (!(reply instanceof Promise)) {
      socket.send(reply, rinfo.port, rinfo.address);
      return;
    }
    // Tracked until the datagram has left, so a draining shutdown does not close the
    // socket under a send that is still queued.
    forwarding++;
    inflight.add(
      reply
        .then(
          (r) =>
            new Promise<void>((resolve) => {
              if (r === null || closed) resolve();
              else socket.send(r, rinfo.port, rinfo.address, () => resolve());
            }),
        )
        .finally(() => {
          forwarding--;
        }),
    );
  });
  socket.on('error', (err) => log().error({ err }, 'udp socket error'));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    const bound = (): void => {
      socket.off('error', reject);
      resolve();
    };
    // dgram's bind takes a libuv UDP handle too: how child_process hands sockets over.
    if (inherited !== undefined) socket.bind(inherited as number, bound);
    else socket.bind({ address: host, port, exclusive: !reusePort }, bound);
  });
  // Big socket buffers absorb bursts (dnsperf, or many pods starting at once).
  try {
    socket.setRecvBufferSize(4 * 1024 * 1024);
    socket.setSendBufferSize(4 * 1024 * 1024);
  } catch {
    /* the kernel caps these; what we get is fine */
  }
  const a = socket.address();
  let done: Promise<void> | undefined;
  const close = (): Promise<void> => {
    done ??= new Promise<void>((resolve) => {
      closed = true;
      socket.close(() => resolve());
    });
    return done;
  };
  return {
    address: { host: a.address, port: a.port },
    stopReceiving: () => {
      receiving = false;
    },
    // Forwarded answers still need the socket to go out: wait for them too (bounded).
    leave: (deadlineMs) => whenQuiet(() => received, () => forwarding === 0, deadlineMs).then(close),
    close,
    get fd() {
      return closed ? undefined : udpFd(socket);
    },
  };
}
