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
  close(): Promise<void>;
}

const rng = mulberry32;

export async function startRelay(host: string, primary: Endpoint, agent: Endpoint, loss: number, seed = 1): Promise<Relay> {
  const rand = rng(seed);
  const udp: Socket = createSocket('udp4');
  // Queries the agent (or anyone else) sends towards the primary, by ID, to route answers back.
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
    const fromPrimary = rinfo.address === primary.host && rinfo.port === primary.port;
    const qr = ((msg[2] as number) & 0x80) !== 0;
    const id = msg.readUInt16BE(0);
    if (fromPrimary) {
      if (!qr) udp.send(msg, agent.port, agent.host); // NOTIFY → agent
      else {
        const back = askers.get(id);
        if (back) udp.send(msg, back.port, back.address);
      }
      return;
    }
    if (!qr) askers.set(id, { port: rinfo.port, address: rinfo.address }); // e.g. SOA refresh
    udp.send(msg, primary.port, primary.host); // NOTIFY answers and queries → primary
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
    close: async () => {
      for (const c of conns) c.destroy();
      await new Promise<void>((r) => udp.close(() => r()));
      await new Promise<void>((r) => tcp.close(() => r()));
    },
  };
}
