/**
 * The network between the controllers and one agent, as the chaos suite needs it to be bad:
 * source NAT as a masquerading node does it (the agent sees a node's address, never a
 * controller's; only answers to what was forwarded go back, as test/util/nat.ts), with knobs
 * the faults turn while a burst runs:
 *
 * - `loss`: each datagram, either way, is dropped with this probability (seeded, replayable);
 * - `rebind()`: conntrack forgets every flow and later ones leave from the other masquerade
 *   address (answers to the old flows are lost);
 * - `hostile`: a peer on the path answers every NOTIFY itself with an unsigned error
 *   (REFUSED, NOTAUTH, alternately) before the agent's real answer, and `attack()` replays
 *   every NOTIFY it has seen (signed, inside the fudge window) and sends forged ones
 *   (unsigned, and signed with the wrong secret) carrying data of its own.
 *
 * The agent's Pod IP is `front` (on the agents' sync port); the controller only ever talks
 * to it. UDP only: transfers go to the endpoint the signed NOTIFY names, not through here.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { canonicalRR } from '../../src/dns/rdata.js';
import { sign, type TsigKey } from '../../src/dns/tsig.js';
import { RCODE, decode, errorResponse, notifyMessage, readHeader, sectionRRs, soaSerial } from '../../src/sync/codec.js';
import { mulberry32 } from '../util/prng.js';

export interface PathStats {
  forwarded: number;
  dropped: number;
  notifies: number;
  forgedErrors: number;
  replayed: number;
  forged: number;
  rebinds: number;
}

interface Flow {
  readonly sock: Socket;
  readonly peer: RemoteInfo;
  readonly ids: Set<number>;
  queue: Buffer[] | undefined;
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

const isAnswer = (m: Buffer): boolean => m.length >= 12 && ((m[2] as number) & 0x80) !== 0;
const isNotify = (m: Buffer): boolean => m.length >= 12 && !isAnswer(m) && readHeader(m).opcode === 4;

export class AgentPath {
  readonly stats: PathStats = { forwarded: 0, dropped: 0, notifies: 0, forgedErrors: 0, replayed: 0, forged: 0, rebinds: 0 };
  loss = 0;
  hostile = false;
  private front: Socket | undefined;
  private attacker: Socket | undefined;
  private readonly flows = new Map<string, Flow>();
  private readonly random: () => number;
  private natIndex = 0;
  /** NOTIFYs seen on the path while hostile, for replaying. */
  private readonly captured: Buffer[] = [];

  constructor(
    readonly frontIp: string,
    readonly syncPort: number,
    /** Two masquerade addresses: rebind() moves from one to the other. */
    readonly natIps: readonly [string, string],
    readonly agent: { host: string; port: number },
    seed: number,
  ) {
    this.random = mulberry32(seed);
  }

  async start(): Promise<void> {
    const front = createSocket('udp4');
    await bind(front, this.frontIp, this.syncPort);
    front.on('message', (msg, rinfo) => this.fromController(msg, rinfo));
    this.front = front;
    const attacker = createSocket('udp4');
    await bind(attacker, this.natIps[0], 0);
    attacker.on('message', () => undefined); // the agent's refusals of our forgeries
    this.attacker = attacker;
  }

  private drop(): boolean {
    if (this.loss > 0 && this.random() < this.loss) {
      this.stats.dropped++;
      return true;
    }
    return false;
  }

  private fromController(msg: Buffer, rinfo: RemoteInfo): void {
    // Requests only: no flow starts with an answer.
    if (msg.length < 12 || isAnswer(msg)) return;
    if (this.hostile && isNotify(msg)) {
      this.captured.push(Buffer.from(msg));
      const rcode = this.stats.forgedErrors % 2 === 0 ? RCODE.REFUSED : RCODE.NOTAUTH;
      const forged = errorResponse(msg, rcode);
      if (forged) {
        this.stats.forgedErrors++;
        this.front?.send(forged, rinfo.port, rinfo.address);
      }
    }
    if (this.drop()) return;
    const key = `${rinfo.address}:${rinfo.port}`;
    let f = this.flows.get(key);
    if (!f) this.flows.set(key, (f = this.openFlow(rinfo)));
    f.ids.add(msg.readUInt16BE(0));
    this.stats.forwarded++;
    if (isNotify(msg)) this.stats.notifies++;
    if (f.queue) f.queue.push(msg);
    else f.sock.send(msg, this.agent.port, this.agent.host);
  }

  private openFlow(peer: RemoteInfo): Flow {
    const flow: Flow = { sock: createSocket('udp4'), peer, ids: new Set(), queue: [] };
    flow.sock.on('message', (m, from) => {
      // Only the agent's answers to what this flow forwarded go back.
      if (!isAnswer(m) || from.address !== this.agent.host || from.port !== this.agent.port || !flow.ids.delete(m.readUInt16BE(0))) return;
      if (this.drop()) return;
      this.stats.forwarded++;
      this.front?.send(m, peer.port, peer.address);
    });
    flow.sock.on('error', () => undefined);
    flow.sock.bind(0, this.natIps[this.natIndex], () => {
      for (const q of flow.queue ?? []) flow.sock.send(q, this.agent.port, this.agent.host);
      flow.queue = undefined;
    });
    return flow;
  }

  /** Conntrack flushed: every flow forgotten, new ones from the other masquerade address. */
  rebind(): void {
    for (const f of this.flows.values()) f.sock.close();
    this.flows.clear();
    this.natIndex = 1 - this.natIndex;
    this.stats.rebinds++;
  }

  /**
   * Replays every captured NOTIFY to the agent (signed by the real key, inside the fudge
   * window, in the order seen and then once more, so stale diffs come after newer ones), and
   * sends forged NOTIFYs for `origin` carrying `evil` A records at a serial far ahead and a
   * term far ahead: unsigned, and signed with a key of the right name and the wrong secret.
   */
  attack(origin: string, evilName: string, key: TsigKey): void {
    const to = (m: Buffer): void => this.attacker?.send(m, this.agent.port, this.agent.host);
    for (const m of [...this.captured, ...this.captured]) {
      to(m);
      this.stats.replayed++;
    }
    // The forgery continues from the newest serial seen on the path, so it would apply.
    const seen = [...this.captured].reverse().map((m) => sectionRRs(decode(m).answers).find((rr) => rr.type === 'SOA' && rr.name === origin)).find((rr) => rr !== undefined);
    const from = soaSerial(seen) ?? 1;
    const soa = canonicalRR({ name: origin, type: 'SOA', ttl: 5, data: { mname: `ns.${origin}`, rname: `hostmaster.${origin}`, serial: (from + 1) >>> 0, refresh: 2, retry: 1, expire: 3600, minimum: 5 } });
    const evil = canonicalRR({ name: evilName, type: 'A', ttl: 5, data: '192.0.2.66' });
    const info = { term: 1n << 40n, transfer: { host: this.natIps[0], port: 53 } };
    const body = notifyMessage(0x6666, soa, { origin, fromSerial: from, toSerial: (from + 1) >>> 0, soa, deleted: [], added: [evil] }, info);
    const wrong: TsigKey = { ...key, secret: Buffer.from('not-the-secret-not-the-secret-00') };
    to(body);
    to(sign(body, wrong).wire);
    this.stats.forged += 2;
  }

  async close(): Promise<void> {
    for (const f of this.flows.values()) f.sock.close();
    this.flows.clear();
    await new Promise<void>((r) => (this.front ? this.front.close(() => r()) : r()));
    await new Promise<void>((r) => (this.attacker ? this.attacker.close(() => r()) : r()));
  }
}
