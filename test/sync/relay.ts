/**
 * A lossy relay standing between the primary and one agent: the primary sends its NOTIFYs
 * to the relay, which forwards them to the agent from its own port; so the agent answers
 * and pulls (TCP, passed through unharmed) via the relay too. A seeded generator drops
 * `loss` of the UDP datagrams in each direction, so a run is repeatable.
 */
import { createSocket, type Socket } from 'node:dgram';
import { createServer, connect, type Server, type Socket as TcpSocket } from 'node:net';
import type { Endpoint } from '../../src/sync/client.js';
import { mulberry32 } from '../util/prng.js';

export interface Relay {
  readonly address: Endpoint;
  readonly dropped: number;
  readonly forwarded: number;
  /** From now on drop this share of the datagrams (1: a path that is down; 0: a clean one). */
  setLoss(loss: number): void;
  close(): Promise<void>;
}

const rng = mulberry32;

export async function startRelay(host: string, primary: Endpoint, agent: Endpoint, initialLoss: number, seed = 1): Promise<Relay> {
  let loss = initialLoss;
  const rand = rng(seed);
  const udp: Socket = createSocket('udp4');
  // Who sent each query through us, by ID, to route its answer back.
  const askers = new Map<number, { port: number; address: string }>();
  let dropped = 0;
  let forwarded = 0;
  udp.on('message', (msg, rinfo) => {
    if (msg.length < 12) return;
    if (rand() < loss) {
      dropped++;
      return;
    }
    forwarded++;
    const fromAgent = rinfo.address === agent.host && rinfo.port === agent.port;
    const qr = ((msg[2] as number) & 0x80) !== 0;
    const id = msg.readUInt16BE(0);
    if (qr) {
      // An answer goes back to whoever asked through us: the primary's NOTIFY port, its SOA
      // probe's own socket, or the agent.
      const back = askers.get(id) ?? (fromAgent ? { port: primary.port, address: primary.host } : undefined);
      if (back) udp.send(msg, back.port, back.address);
      return;
    }
    askers.set(id, { port: rinfo.port, address: rinfo.address });
    if (fromAgent) udp.send(msg, primary.port, primary.host); // e.g. an SOA refresh → primary
    else udp.send(msg, agent.port, agent.host); // NOTIFYs and SOA probes, from any socket → agent
  });
  const conns = new Set<TcpSocket>();
  const tcp: Server = createServer((c) => {
    const up = connect(primary.port, primary.host);
    conns.add(c);
    conns.add(up);
    c.pipe(up);
    up.pipe(c);
    const end = (): void => {
      c.destroy();
      up.destroy();
      conns.delete(c);
      conns.delete(up);
    };
    c.on('error', end).on('close', end);
    up.on('error', end).on('close', end);
  });
  const port = await new Promise<number>((resolve) => {
    tcp.listen(0, host, () => {
      const a = tcp.address();
      resolve(typeof a === 'object' && a ? a.port : 0);
    });
  });
  await new Promise<void>((resolve) => udp.bind(port, host, () => resolve()));
  return {
    address: { host, port },
    get dropped() {
      return dropped;
    },
    get forwarded() {
      return forwarded;
    },
    setLoss: (l: number) => {
      loss = l;
    },
    close: async () => {
      for (const c of conns) c.destroy();
      await new Promise<void>((r) => udp.close(() => r()));
      await new Promise<void>((r) => tcp.close(() => r()));
    },
  };
}
