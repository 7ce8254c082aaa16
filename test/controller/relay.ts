/**
 * A lossy relay standing in for a bad network between the controller and one agent. The
 * agent's Pod IP points at the relay; the relay forwards UDP to the agent, dropping a share
 * of the NOTIFYs, and relays the answers back. Toward the agent it speaks from
 * (relayIp, primaryPort) and it accepts TCP there too, piping it to the primary, so the
 * agent's IXFR/AXFR pull — sent to where the NOTIFY came from — also works through it.
 */
import { createSocket, type Socket } from 'node:dgram';
import { createConnection, createServer, type Server } from 'node:net';

export interface RelayStats {
  forwarded: number;
  dropped: number;
}

export class LossyRelay {
  readonly stats: RelayStats = { forwarded: 0, dropped: 0 };
  private front: Socket | undefined;
  private back: Socket | undefined;
  private tcp: Server | undefined;
  private primaryPeer: { address: string; port: number } | undefined;
  private seed: number;

  constructor(
    /** Where the controller sends (the Pod IP + the agents' sync port). */
    readonly frontIp: string,
    readonly syncPort: number,
    /** Where the relay speaks to the agent from: same port number as the primary's. */
    readonly backIp: string,
    readonly primary: { host: string; port: number },
    readonly agent: { host: string; port: number },
    readonly dropRate: number,
    seed = 12345,
  ) {
    this.seed = seed;
  }

  /** A deterministic generator: the same run drops the same messages. */
  private random(): number {
    this.seed = (Math.imul(this.seed, 1103515245) + 12345) >>> 0;
    return this.seed / 2 ** 32;
  }

  async start(): Promise<void> {
    const front = createSocket('udp4');
    const back = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      front.once('error', reject);
      front.bind(this.syncPort, this.frontIp, () => resolve());
    });
    await new Promise<void>((resolve, reject) => {
      back.once('error', reject);
      back.bind(this.primary.port, this.backIp, () => resolve());
    });
    front.on('message', (msg, rinfo) => {
      this.primaryPeer = { address: rinfo.address, port: rinfo.port };
      // Only NOTIFYs (opcode 4) are dropped; replies and queries pass.
      const opcode = msg.length > 2 ? ((msg[2] as number) >> 3) & 0x0f : -1;
      if (opcode === 4 && ((msg[2] as number) & 0x80) === 0 && this.random() < this.dropRate) {
        this.stats.dropped++;
        return;
      }
      this.stats.forwarded++;
      back.send(msg, this.agent.port, this.agent.host);
    });
    back.on('message', (msg, rinfo) => {
      if (rinfo.address === this.agent.host && rinfo.port === this.agent.port && this.primaryPeer) {
        front.send(msg, this.primaryPeer.port, this.primaryPeer.address);
      } else {
        // A query the agent sent to "the primary" (SOA check over UDP): pass it on.
        front.send(msg, this.primary.port, this.primary.host);
      }
    });
    this.tcp = createServer((client) => {
      const upstream = createConnection({ host: this.primary.host, port: this.primary.port });
      client.pipe(upstream).pipe(client);
      const close = (): void => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', close);
      upstream.on('error', close);
    });
    await new Promise<void>((resolve, reject) => {
      this.tcp?.once('error', reject);
      this.tcp?.listen(this.primary.port, this.backIp, () => resolve());
    });
    this.front = front;
    this.back = back;
  }

  async stop(): Promise<void> {
    this.front?.close();
    this.back?.close();
    await new Promise<void>((resolve) => (this.tcp ? this.tcp.close(() => resolve()) : resolve()));
  }
}
