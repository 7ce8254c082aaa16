/**
 * A UDP socket and a TCP server on the same address and port. The primary needs the pair
 * because its NOTIFYs must leave from the port that serves transfers (the agent pulls from
 * where the NOTIFY came from); the secondary uses it for its sync listener.
 */
import { createServer, type Server, type Socket as TcpSocket } from 'node:net';
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { literalLookup } from '../dns/literal-lookup.js';
import { admitSocket, ConnLimiter, RefusalLog, type ConnLimits } from './conn-limit.js';
import { syncTcpConnections, syncTcpRefused } from './metrics.js';
import { logger } from '../observability/logger.js';

export interface PortPair {
  readonly udp: UdpSocket;
  readonly tcp: Server;
  readonly host: string;
  readonly port: number;
}

/** Which end of the sync protocol listens (labels its metrics) and its TCP connection caps. */
export interface TcpGuard {
  readonly role: 'primary' | 'secondary';
  readonly limits: ConnLimits;
}

/**
 * Caps of the sync ports. The primary's transfer port sees every agent pulling at once after a
 * leader change, and agents behind one NAT (or on one test host) share an address, so its
 * per-client cap is generous; the agent's sync port only ever hears from the leader.
 */
export const SYNC_TCP_LIMITS: Readonly<Record<TcpGuard['role'], ConnLimits>> = {
  primary: { perClient: 256, total: 4096 },
  secondary: { perClient: 16, total: 256 },
};

export interface PairHandlers {
  readonly udp: (msg: Buffer, rinfo: RemoteInfo) => void;
  readonly tcp: (socket: TcpSocket) => void;
}

function listenTcp(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', onError);
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : port);
    });
  });
}

function bindUdp(sock: UdpSocket, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    sock.once('error', onError);
    sock.bind({ address: host, port, exclusive: true }, () => {
      sock.off('error', onError);
      resolve();
    });
  });
}

/** Binds both; with port 0, retries until a port is free for both protocols. */
export async function listenPair(host: string, port: number, handlers: PairHandlers, guard: TcpGuard): Promise<PortPair> {
  const family = host.includes(':') ? 'udp6' : 'udp4';
  const limiter = new ConnLimiter(guard.limits);
  const refusals = new RefusalLog(() => logger(guard.role), `sync ${host}:${port}`);
  const onConnection = (sock: TcpSocket): void => {
    const ok = admitSocket(sock, limiter, (client, reason) => {
      syncTcpRefused.inc({ role: guard.role, reason });
      refusals.refused(client, reason, guard.limits);
    });
    if (!ok) return;
    syncTcpConnections.inc({ role: guard.role });
    sock.once('close', () => syncTcpConnections.dec({ role: guard.role }));
    handlers.tcp(sock);
  };
  for (let attempt = 0; ; attempt++) {
    const tcp = createServer({ noDelay: true }, onConnection);
    const got = await listenTcp(tcp, host, port);
    const udp = createSocket({ type: family, reuseAddr: false, lookup: literalLookup });
    try {
      await bindUdp(udp, host, got);
    } catch (err) {
      await new Promise<void>((r) => tcp.close(() => r()));
      udp.close();
      if (port !== 0 || attempt >= 10) throw err;
      continue;
    }
    udp.on('message', handlers.udp);
    // A UDP error (ICMP unreachable surfacing as ECONNREFUSED on some stacks) must not kill us.
    udp.on('error', () => undefined);
    return { udp, tcp, host, port: got };
  }
}

export async function closePair(p: PortPair): Promise<void> {
  await new Promise<void>((resolve) => {
    p.udp.close(() => resolve());
  });
  await new Promise<void>((resolve) => p.tcp.close(() => resolve()));
}
