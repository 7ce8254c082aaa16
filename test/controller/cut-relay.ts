/**
 * A UDP relay in front of one agent's sync port (the agent's Pod IP points at it) that can
 * cut off chosen senders: their NOTIFYs and probes, and the answers to them, are dropped;
 * everyone else passes both ways. Agents pull and check SOA at the transfer endpoint the
 * signed NOTIFY names, so only the sync port needs relaying.
 */
import { createSocket, type Socket } from 'node:dgram';

export class CutRelay {
  private readonly front: Socket = createSocket('udp4');
  private readonly back: Socket = createSocket('udp4');
  /** Who asked, by message ID, to route the agent's answer back. */
  private readonly askers = new Map<number, { address: string; port: number }>();
  private readonly cut = new Set<string>();
  /** Datagrams passed between a sender and the agent, by sender address (both directions). */
  readonly passed = new Map<string, number>();

  constructor(
    readonly frontIp: string,
    readonly syncPort: number,
    readonly backIp: string,
    readonly agent: { host: string; port: number },
  ) {}

  async start(): Promise<void> {
    this.front.on('message', (msg, rinfo) => {
      if (msg.length < 12 || this.cut.has(rinfo.address)) return;
      this.askers.set(msg.readUInt16BE(0), { address: rinfo.address, port: rinfo.port });
      this.count(rinfo.address);
      this.back.send(msg, this.agent.port, this.agent.host);
    });
    this.back.on('message', (msg) => {
      if (msg.length < 12) return;
      const to = this.askers.get(msg.readUInt16BE(0));
      if (!to || this.cut.has(to.address)) return;
      this.count(to.address);
      this.front.send(msg, to.port, to.address);
    });
    await new Promise<void>((resolve) => this.front.bind(this.syncPort, this.frontIp, () => resolve()));
    await new Promise<void>((resolve) => this.back.bind(0, this.backIp, () => resolve()));
  }

  private count(address: string): void {
    this.passed.set(address, (this.passed.get(address) ?? 0) + 1);
  }

  cutOff(address: string): void {
    this.cut.add(address);
  }

  restore(address: string): void {
    this.cut.delete(address);
  }

  stop(): void {
    this.front.close();
    this.back.close();
  }
}
