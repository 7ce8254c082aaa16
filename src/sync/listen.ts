/**
 * A UDP socket and a TCP server on the same address and port. The primary needs the pair
 * because its NOTIFYs must leave from the port that serves transfers (the agent pulls from
 * where the NOTIFY came from); the secondary uses it for its sync listener.
 */
import { createServer, type Server, type Socket as TcpSocket } from 'node:net';
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { literalLookup } from '../dns/literal-lookup.js';

export interface PortPair {
  readonly udp: UdpSocket;
  readonly tcp: Server;
  readonly host: string;
  readonly port: number;
}

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
export async function listenPair(host: string, port: number, handlers: PairHandlers): Promise<PortPair> {
  const family = host.includes(':') ? 'udp6' : 'udp4';
  for (let attempt = 0; ; attempt++) {
    const tcp = createServer({ noDelay: true }, handlers.tcp);
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
