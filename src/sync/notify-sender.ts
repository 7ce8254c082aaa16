/**
 * Puts one NOTIFY on the wire for an agent and remembers it under its header ID until its
 * answer (or a later retransmission) retires it. A dnssync agent gets the copy signed once
 * for every agent at its base (notify-builder.ts) with its own header ID; a MAC it has taken
 * before (its replay cache refuses it) or a standard secondary gets a copy signed for it alone.
 */
import { randomInt } from 'node:crypto';
import type { Socket as UdpSocket } from 'node:dgram';
import type { Logger } from '../observability/logger.js';
import type { Auth } from './auth.js';
import { sharesSignature, type Inflight, type Link, type Sent } from './agent-links.js';
import { notifiesRetried, notifiesSent } from './metrics.js';
import { restamped, type NotifyBuilder } from './notify-builder.js';
import type { PushStreams } from './push-stream.js';
import type { CachedNotify, ServedZone } from './served-zone.js';

export class NotifySender {
  private readonly sent = new Map<number, Sent>();
  private readonly debug: boolean;

  constructor(
    private readonly udp: UdpSocket,
    private readonly auth: Auth,
    private readonly builder: NotifyBuilder,
    private readonly log: Logger,
    /** Legs sent back to back at most (delivery.ts): how many IDs and MACs a link keeps. */
    private readonly chained: number,
    /** Per-agent TCP streams for diffs larger than a datagram; undefined: datagrams only. */
    private readonly streams: PushStreams | undefined,
  ) {
    this.debug = log.isLevelEnabled('debug');
  }

  /** The NOTIFY outstanding under header ID `id`. */
  get(id: number): Sent | undefined {
    return this.sent.get(id);
  }

  /** Forgets these IDs (their change is settled or given up). */
  forget(ids: Iterable<number>): void {
    for (const id of ids) this.sent.delete(id);
  }

  /**
   * The whole diff for `link` over its push stream, when that is how it goes: a first attempt
   * (retries go as datagrams, as before streams) to a dnssync agent whose way from `from`
   * does not fit one datagram but fits a stream message.
   */
  streamed(link: Link, z: ServedZone, from: number | undefined, attempt: number): CachedNotify | undefined {
    if (this.streams === undefined || attempt > 0 || from === undefined || link.plainOnly || !sharesSignature(link)) return undefined;
    if (this.builder.notifyFor(z, from).kind === 'diff' || !this.streams.usable(link.agent.host, link.agent.port)) return undefined;
    return this.builder.streamNotifyFor(z, from);
  }

  /** Sends `link` the NOTIFY for an agent at `from`; returns its kind. */
  send(link: Link, z: ServedZone, f: Inflight, from: number | undefined, attempt: number): CachedNotify['kind'] {
    const id = this.freeId();
    const builder = this.builder;
    const stream = this.streamed(link, z, from, attempt);
    let n = stream ?? builder.notifyFor(z, from);
    // A standard secondary reads only the serial a NOTIFY announces and ignores one it already
    // holds: a leg (announcing a serial short of the current one) could stall it there.
    if (n.kind === 'leg' && link.standard) n = builder.notifyFor(z, undefined);
    // The shared copy's MAC repeats within its second; an agent refuses a MAC it has taken
    // before (its replay cache), so a second sending to the same agent is signed for it alone.
    const shared = sharesSignature(link) ? builder.signed(n) : undefined;
    const taken = shared?.mac !== undefined && link.sharedMacs.some((m) => m.equals(shared.mac as Buffer));
    const msg = shared && !taken ? restamped(shared, id) : this.auth.request(restamped({ wire: n.bytes }, id).wire);
    link.lastSharedMac = shared === undefined ? undefined : shared.mac;
    if (shared?.mac && !taken) {
      link.sharedMacs.push(shared.mac);
      if (link.sharedMacs.length > Math.max(4, 2 * this.chained)) link.sharedMacs.shift();
    }
    const kind = n.kind;
    f.lastFrom = n.from;
    f.lastTo = n.to;
    f.streamed = stream !== undefined;
    // Keep earlier IDs of this outstanding change: a late ACK to a retransmission still counts.
    if (f.ids.size >= 2 * this.chained) {
      const oldest = f.ids.values().next().value as number;
      f.ids.delete(oldest);
      this.sent.delete(oldest);
    }
    f.ids.add(id);
    this.sent.set(id, { link, mac: msg.mac });
    notifiesSent.inc({ kind: stream ? 'stream' : kind });
    if (attempt > 0) notifiesRetried.inc();
    // Guarded: the object would be built for every NOTIFY, a hundred per change, even unlogged.
    if (this.debug) this.log.debug({ zone: link.origin, serial: z.snapshot.serial, agent: link.agent.id, kind, attempt, from: f.lastFrom }, 'NOTIFY sent');
    f.sentAt = performance.now();
    // usable() held a moment ago and nothing ran since: the stream takes it.
    if (!stream || !this.streams?.send(link.agent.host, link.agent.port, msg.wire)) this.udp.send(msg.wire, link.agent.port, link.agent.host);
    return kind;
  }

  private freeId(): number {
    for (;;) {
      const id = randomInt(0, 65536);
      if (!this.sent.has(id)) return id;
    }
  }
}
