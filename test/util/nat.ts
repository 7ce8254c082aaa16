/**
 * Source NAT as a masquerading node does it, for UDP, with nothing else: a datagram the
 * primary sends to `front` leaves toward the agent from (natIp, a port of the NAT's own), and
 * only answers to it (QR=1, the same flow back) return to the primary. Nothing listens on
 * natIp over TCP, and a UDP query sent to the NAT address (an SOA check, say) goes nowhere:
 * an agent that pulls from a NOTIFY's source address finds no primary there. Unlike a
 * cooperative relay, this one offers no way back.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';

export interface NatStats {
  /** Datagrams forwarded primary → agent. */
  out: number;
  /** Answers forwarded agent → primary. */
  back: number;
  /** Datagrams to the NAT address that were not answers to a forwarded message: dropped. */
  dropped: number;
}

export interface Nat {
  readonly front: { host: string; port: number };
  /** The source address the agent sees (per primary flow; the first one). */
  readonly natAddress: () => { host: string; port: number } | undefined;
  readonly stats: NatStats;
  close(): Promise<void>;
}

function bind(sock: Socket, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(port, host, () => {
      sock.off('error', reject);
      resolve();
    });
  });
}

interface Flow {
  readonly sock: Socket;
  readonly peer: RemoteInfo;
  /** IDs of requests forwarded on this flow and not yet answered. */
  readonly ids: Set<number>;
  /** Datagrams that arrived before the NAT port was bound. */
  queue: Buffer[] | undefined;
}

export async function startNat(frontIp: string, natIp: string, agent: { host: string; port: number }): Promise<Nat> {
  const stats: NatStats = { out: 0, back: 0, dropped: 0 };
  const front = createSocket('udp4');
  await bind(front, frontIp, 0);
  const fp = front.address().port;
  // One masqueraded flow per primary address, as conntrack keeps one per 5-tuple.
  const flows = new Map<string, Flow>();
  let first: { host: string; port: number } | undefined;
  const openFlow = (peer: RemoteInfo): Flow => {
    const flow: Flow = { sock: createSocket('udp4'), peer, ids: new Set(), queue: [] };
    flow.sock.on('message', (m, from) => {
      const qr = m.length >= 12 && ((m[2] as number) & 0x80) !== 0;
      // Only the agent's answers to what we forwarded go back; anything else has no flow.
      if (!qr || from.address !== agent.host || from.port !== agent.port || !flow.ids.delete(m.readUInt16BE(0))) {
        stats.dropped++;
        return;
      }
      stats.back++;
      front.send(m, peer.port, peer.address);
    });
    flow.sock.bind(0, natIp, () => {
      first ??= { host: natIp, port: flow.sock.address().port };
      for (const q of flow.queue ?? []) flow.sock.send(q, agent.port, agent.host);
      flow.queue = undefined;
    });
    return flow;
  };
  front.on('message', (msg, rinfo) => {
    // Requests only: no flow starts with an answer.
    if (msg.length < 12 || ((msg[2] as number) & 0x80) !== 0) return;
    const key = `${rinfo.address}:${rinfo.port}`;
    let f = flows.get(key);
    if (!f) flows.set(key, (f = openFlow(rinfo)));
    f.ids.add(msg.readUInt16BE(0));
    stats.out++;
    if (f.queue) f.queue.push(msg);
    else f.sock.send(msg, agent.port, agent.host);
  });
  return {
    front: { host: frontIp, port: fp },
    natAddress: () => first,
    stats,
    close: async () => {
      for (const f of flows.values()) await new Promise<void>((r) => f.sock.close(() => r()));
      await new Promise<void>((r) => front.close(() => r()));
    },
  };
}
