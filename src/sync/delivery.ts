/**
 * Per-agent delivery: the state machine that brings every agent to every zone's serial. Per
 * agent and zone at most one NOTIFY is outstanding; the next one goes out when it is
 * acknowledged (carrying everything since the acknowledged serial), or when the retry timer
 * fires (backoff from the measured round trip, capped). A fan-out is a sliding window
 * (send-window.ts); the heartbeat (heartbeat.ts) checks settled agents for drift.
 */
import { randomInt } from 'node:crypto';
import type { Socket as UdpSocket } from 'node:dgram';
import type { Logger } from '../observability/logger.js';
import { ackStep } from './ack-step.js';
import type { Auth } from './auth.js';
import { agentStates, followsCatalog, newLink, publishLag, settledLinks, sharesSignature, type Agent, type Inflight, type Link } from './agent-links.js';
import { heldSerial, pollHeld, probeSerials } from './agent-probes.js';
import { NotifySender } from './notify-sender.js';
import { CATALOG_ORIGIN, isCatalog } from './catalog.js';
import { bareNotify, OPCODE_NOTIFY, readHeader } from './codec.js';
import { aheadVerdict } from './fencing.js';
import { Heartbeat, type HeartbeatOptions } from './heartbeat.js';
import type { LeaderInfo } from './leader-info.js';
import { agentDrift, agentLag, agentSerial, notifiesAcked } from './metrics.js';
import { classifyAnswer } from './notify-answer.js';
import type { NotifyBuilder } from './notify-builder.js';
import type { ServedZone } from './served-zone.js';
import type { AgentEndpoint, AgentState } from './primary-types.js';
import { PushStreams } from './push-stream.js';
import { RetryTimer } from './rtt.js';
import { SendWindow, type WindowLimits } from './send-window.js';

/**
 * Legs sent back to back at most (the way on then continues when the last is acknowledged).
 * One: chains of 4 were measured worse — a retry resends the whole chain, and at 1,000
 * simulated agents retries went from 4,233 to 26,828 in a 5 s feed, with 1,060 pulls instead
 * of none (bench-fleet). Kept as a knob for a faster network than this shared machine.
 */
export const CHAINED_LEGS = 1;

/** Retries after which an agent that does not answer leaves the send window (retrying outside it). */
const WINDOW_RETRIES = 3;

/**
 * The first retry of a NOTIFY sent on a push stream waits at least this long: TCP loses
 * nothing, so an answer later than the datagram round trip is an agent busy (applying, or a
 * leader starved of CPU reading the answers), and a datagram retry would only add to the work.
 * A stream that breaks sends its outstanding NOTIFYs again at once, as datagrams.
 */
const STREAM_RETRY_MS = 2000;

/** What delivery needs of the primary's zones. */
export interface DeliveryHost {
  readonly zones: ReadonlyMap<string, ServedZone>;
  /** An agent holds a later serial from an older term: commit a serial past it. */
  resumePast(origin: string, serial: number): void;
  raiseSerialFloor(origin: string, serial: number): void;
}

export interface DeliveryEvents {
  ack(agentId: string, origin: string, serial: number): void;
  deposed(agentId: string, origin: string): void;
  drift(agentId: string, origin: string, serial: number | undefined): void;
}

export interface DeliveryOptions {
  readonly udp: UdpSocket;
  readonly auth: Auth;
  readonly builder: NotifyBuilder;
  readonly info: LeaderInfo | undefined;
  readonly term: bigint;
  readonly log: Logger;
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
  readonly window: Required<Pick<WindowLimits, 'maxInFlight'>> & WindowLimits;
  readonly heartbeat: HeartbeatOptions | false;
  readonly catalog: boolean;
  /**
   * Push streams (push-stream.ts) for diffs larger than a datagram, leaving from this local
   * address; undefined: datagrams only. Only with an advertised transfer endpoint: the agent
   * pulls from the NOTIFY's source otherwise, and a stream's source port is not ours.
   */
  readonly streams: { readonly localAddress: string | undefined } | undefined;
}

export class Delivery {
  private readonly agents = new Map<string, Agent>();
  private readonly sender: NotifySender;
  private readonly window: SendWindow<Link>;
  private readonly retry: RetryTimer;
  private readonly heartbeat: Heartbeat<Link> | undefined;
  private readonly lagTimer: NodeJS.Timeout;
  private readonly streams: PushStreams | undefined;
  private readonly debug: boolean;
  private readonly log: Logger;
  private closed = false;

  constructor(
    private readonly host: DeliveryHost,
    private readonly events: DeliveryEvents,
    private readonly opts: DeliveryOptions,
  ) {
    this.log = opts.log;
    this.debug = this.log.isLevelEnabled('debug');
    this.retry = new RetryTimer(opts.retryInitialMs, opts.retryMaxMs);
    this.streams = opts.streams && opts.info?.transfer ? new PushStreams({ localAddress: opts.streams.localAddress, onMessage: (host, msg) => this.onStreamMessage(host, msg), onClose: (host, port) => this.onStreamClosed(host, port) }) : undefined;
    this.sender = new NotifySender(opts.udp, opts.auth, opts.builder, opts.log, CHAINED_LEGS, this.streams);
    this.window = new SendWindow(opts.window);
    this.lagTimer = setInterval(() => publishLag(this.agents.values(), Date.now()), 1000);
    this.lagTimer.unref();
    if (opts.heartbeat !== false) {
      this.heartbeat = new Heartbeat(opts.heartbeat, () => settledLinks(this.agents.values()), (l) => this.checkAgent(l));
      this.heartbeat.start();
    }
  }

  /** The full set of agents to push to; new ones are notified at once, gone ones forgotten. */
  setAgents(list: readonly AgentEndpoint[]): void {
    const want = new Map(list.map((a) => [a.id, a]));
    for (const [id, a] of this.agents) {
      const w = want.get(id);
      if (!w || w.host !== a.host || w.port !== a.port) {
        for (const link of a.links.values()) this.dropLink(link);
        this.agents.delete(id);
      }
    }
    for (const w of want.values()) {
      if (this.agents.has(w.id)) continue;
      const agent: Agent = { id: w.id, host: w.host, port: w.port, links: new Map() };
      this.agents.set(w.id, agent);
      this.log.debug({ agent: w.id, host: w.host, port: w.port }, 'agent added');
      for (const o of this.host.zones.keys()) this.kick(this.link(agent, o));
    }
  }

  /** `origin` has a new serial: bring every agent to it. */
  published(origin: string): void {
    for (const a of this.agents.values()) this.kick(this.link(a, origin));
  }

  /**
   * `origin` is no longer served: forget its links and tell every agent with one NOTIFY
   * without a serial — it checks, is refused, and drops the zone now rather than at its next
   * SOA refresh. Not retried: the refresh is the safety net.
   */
  removed(origin: string): void {
    for (const a of this.agents.values()) {
      const link = a.links.get(origin);
      if (link) this.dropLink(link);
      this.opts.udp.send(this.opts.auth.request(bareNotify(randomInt(0, 65536), origin, this.opts.info)).wire, a.port, a.host);
    }
  }

  /** The send window: agents with a NOTIFY outstanding, of those pulling, and waiting for a slot. */
  get fanout(): { inFlight: number; pulling: number; queued: number; maxInFlight: number; maxPulls: number; retryMs: number; streams: number } {
    const w = this.window;
    return { inFlight: w.inFlight, pulling: w.pulling, queued: w.queued, maxInFlight: w.maxInFlight, maxPulls: w.maxPulls, retryMs: Math.round(this.retry.delay(0)), streams: this.streams?.size ?? 0 };
  }

  agentStates(): AgentState[] {
    return agentStates(this.agents.values(), this.host.zones, Date.now());
  }

  /**
   * Asks every agent for its serial of each origin (SOA over UDP to its sync port) and raises
   * the serial floors to the newest answer. Agents that do not answer in time are skipped.
   */
  probeSerials(origins: readonly string[], timeoutMs: number): Promise<Record<string, number>> {
    return probeSerials(this.agents.values(), origins, this.opts.auth, timeoutMs, (o, s) => this.host.raiseSerialFloor(o, s));
  }

  close(): void {
    this.closed = true;
    clearInterval(this.lagTimer);
    this.window.clear();
    this.heartbeat?.stop();
    this.streams?.close();
    for (const a of this.agents.values()) for (const l of a.links.values()) this.clearInflight(l);
  }

  /** A NOTIFY answer (or anything with QR set) from `host`: on the UDP port or a push stream. */
  onResponse(raw: Buffer, id: number, opcode: number, rcode: number, host: string): void {
    const s = this.sender.get(id);
    if (!s || opcode !== OPCODE_NOTIFY) return;
    if (s.link.agent.host !== host) return;
    const link = s.link;
    const f = link.inflight;
    const zone = this.host.zones.get(link.origin);
    const v = classifyAnswer(raw, rcode, s.mac, this.opts.auth, {
      diffOutstanding: f !== undefined && f.lastFrom !== undefined && !link.plainOnly,
      catalog: isCatalog(link.origin),
      term: this.opts.term,
      serial: zone?.snapshot.serial,
      origin: link.origin,
    });
    const ctx = { zone: link.origin, agent: link.agent.id };
    switch (v.kind) {
      case 'plain-only':
        // Unsigned, as a parser failure is: the worst a forger gains is a pull instead of a push.
        this.log.info(ctx, 'peer cannot parse a NOTIFY carrying a diff; sending it plain NOTIFYs');
        link.plainOnly = true;
        this.send(link, 0);
        return;
      case 'unverified':
        this.log.warn({ ...ctx, err: v.error }, 'NOTIFY response failed TSIG verification; ignored');
        link.lastError = `NOTIFY answer failed TSIG verification: ${v.error}`;
        return;
      case 'fenced':
        this.fence(link, { ...ctx, term: String(this.opts.term), agentTerm: String(v.agentTerm) });
        return;
      case 'no-catalog':
        // A peer that does not follow our catalog (a standard secondary, an agent without the
        // key): it keeps its zones as configured; no point repeating the offer.
        this.log.info({ ...ctx, rcode }, 'peer does not take the catalog; no more catalog NOTIFYs to it');
        this.clearInflight(link);
        link.fenced = true;
        return;
      case 'refused':
        this.log.warn({ ...ctx, rcode }, 'agent refused NOTIFY');
        link.lastError = v.error;
        return;
      case 'malformed':
        return;
      case 'ack':
        // Only a dnssync agent answers a NOTIFY with a serial: it takes legs again (a receipt
        // while it was pulling marked it standard).
        if (v.serial !== undefined) link.standard = false;
        this.onAck(link, v.serial, v.agentTerm);
    }
  }

  /** A push stream broke: what was outstanding on it goes again now, as datagrams. */
  private onStreamClosed(host: string, port: number): void {
    if (this.closed) return;
    for (const a of this.agents.values()) {
      if (a.host !== host || a.port !== port) continue;
      for (const l of a.links.values()) if (l.inflight?.streamed) this.send(l, l.inflight.attempt + 1);
    }
  }

  private onStreamMessage(host: string, msg: Buffer): void {
    let h;
    try {
      h = readHeader(msg);
    } catch {
      return;
    }
    if (h.qr) this.onResponse(msg, h.id, h.opcode, h.rcode, host);
  }

  /** One heartbeat probe: the agent's SOA, compared with the serial it last acknowledged. */
  private async checkAgent(link: Link): Promise<void> {
    const believed = link.acked;
    const holds = await heldSerial(link.agent, link.origin, this.opts.auth);
    if (holds === 'unknown') return;
    // Anything acknowledged meanwhile is newer than this answer: then it says nothing.
    if (this.closed || link.inflight || link.fenced || link.agent.links.get(link.origin) !== link || link.acked !== believed || holds === believed) return;
    this.log.warn({ zone: link.origin, agent: link.agent.id, serial: link.acked, agentSerial: holds ?? null }, 'agent holds other than it acknowledged (restarted or lost state); resyncing it');
    agentDrift.inc();
    link.lastError = `held ${holds ?? 'no zone'} after acknowledging ${link.acked ?? 'nothing'} (restarted or lost state); resynced`;
    link.acked = holds;
    this.events.drift(link.agent.id, link.origin, holds);
    this.kick(link);
  }

  /** An agent just showed it is a dnssync agent: bring its catalog up to date if it is not. */
  private offerCatalog(a: Agent): void {
    const cat = this.host.zones.get(CATALOG_ORIGIN);
    if (!cat) return;
    const l = a.links.get(CATALOG_ORIGIN);
    if (l === undefined || (l.acked !== cat.snapshot.serial && !l.inflight)) this.kick(this.link(a, CATALOG_ORIGIN));
  }

  private link(a: Agent, o: string): Link {
    let l = a.links.get(o);
    if (!l) {
      l = newLink(a, o);
      a.links.set(o, l);
    }
    return l;
  }

  private dropLink(link: Link): void {
    this.clearInflight(link);
    link.agent.links.delete(link.origin);
    agentLag.remove({ agent: link.agent.id, zone: link.origin });
    agentSerial.remove({ agent: link.agent.id, zone: link.origin });
  }

  private clearInflight(link: Link): void {
    this.released(link);
    const f = link.inflight;
    if (!f) return;
    if (f.timer) clearTimeout(f.timer);
    this.sender.forget(f.ids);
    link.inflight = undefined;
  }

  /** Sends the next NOTIFY unless one is already outstanding (its ACK or retry carries on). */
  private kick(link: Link): void {
    const z = this.host.zones.get(link.origin);
    if (!z || this.closed || link.fenced) return;
    if (link.acked === z.snapshot.serial) return;
    if (link.acked === undefined && isCatalog(link.origin) && !followsCatalog(link.agent, this.host.zones)) return;
    link.behindSince ??= Date.now();
    if (link.inflight && !link.inflight.receipt) return;
    this.send(link, 0);
  }

  /** Gives `link`'s window slot back and sends to the agents queued for one. */
  private released(link: Link): void {
    const work = this.window.release(link);
    for (let i = 0; i < work.length; i++) {
      const l = work[i] as Link;
      const z = this.host.zones.get(l.origin);
      if (!this.closed && z && l.acked !== z.snapshot.serial && l.agent.links.get(l.origin) === l && this.agents.get(l.agent.id) === l.agent) this.send(l, 0);
      else work.push(...this.window.release(l));
    }
  }

  private send(link: Link, attempt: number): void {
    const z = this.host.zones.get(link.origin);
    if (!z || this.closed) return;
    // A fan-out is a window (send-window.ts); one that keeps not answering leaves it.
    if (attempt >= WINDOW_RETRIES) this.released(link);
    // A diff on a push stream is answered on that stream, not into the UDP receive buffer the
    // window protects: it takes no slot.
    else if (!link.inflight && this.sender.streamed(link, z, link.plainOnly ? undefined : link.acked, attempt) === undefined && !this.window.admit(link, this.opts.builder.notifyFor(z, link.plainOnly ? undefined : link.acked).kind === 'plain')) return;
    const f: Inflight = link.inflight ?? { ids: new Set(), attempt, timer: undefined, lastFrom: undefined, lastTo: z.snapshot.serial, receipt: false, sentAt: 0, firstFrom: undefined, streamed: false };
    link.inflight = f;
    f.attempt = attempt;
    f.receipt = false;
    if (f.timer) clearTimeout(f.timer);
    let from = link.plainOnly ? undefined : link.acked;
    f.firstFrom = from;
    // Legs go back to back to a dnssync agent, which applies NOTIFYs in arrival order: a way
    // that takes several datagrams costs one round trip, not one per leg (at thousands of
    // agents a round trip is hundreds of milliseconds).
    for (let legs = 1; ; legs++) {
      const kind = this.sender.send(link, z, f, from, attempt);
      if (kind !== 'leg' || legs >= CHAINED_LEGS || !sharesSignature(link)) break;
      from = f.lastTo;
    }
    const delay = f.streamed ? Math.max(STREAM_RETRY_MS, this.retry.delay(attempt)) : this.retry.delay(attempt);
    f.timer = setTimeout(() => this.send(link, attempt + 1), delay);
    f.timer.unref();
  }

  /** Polls the peer's SOA with backoff until it reports a serial; re-NOTIFYs at the cap. */
  private probe(link: Link, f: Inflight, delay: number): void {
    pollHeld(link.agent, link.origin, this.opts.auth, f, delay, this.opts.retryMaxMs, {
      live: () => link.inflight === f && !this.closed,
      current: () => this.host.zones.get(link.origin)?.snapshot.serial,
      held: (s) => this.onAck(link, s),
      resend: () => this.send(link, f.attempt + 1),
    });
  }

  /** The agent follows a newer leader: stop pushing to it (its refusals would only repeat). */
  private fence(link: Link, ctx: Record<string, unknown>): void {
    this.clearInflight(link);
    if (!link.fenced) this.log.warn(ctx, 'agent follows a newer leadership term: we are deposed there, no more pushes to it');
    link.lastError = 'follows a newer leadership term (this controller is deposed there)';
    link.fenced = true;
    this.events.deposed(link.agent.id, link.origin);
  }

  private onAck(link: Link, serial: number | undefined, agentTerm?: bigint): void {
    const z = this.host.zones.get(link.origin);
    const f = link.inflight;
    if (!z || !f) return;
    notifiesAcked.inc();
    if (serial === undefined) {
      // Receipt without a serial: a standard secondary (RFC 1996 answers carry none), or an
      // agent still pulling. Either transfers from us; learn when it is done by asking for
      // its SOA, and NOTIFY again only when that takes long.
      link.standard = true;
      f.receipt = true;
      this.probe(link, f, this.opts.retryInitialMs / 2);
      return;
    }
    // A diff's round trip (a plain NOTIFY's answer waits for the pull it started).
    if (f.attempt === 0 && f.lastFrom !== undefined) this.retry.sample(performance.now() - f.sentAt);
    const agentId = link.agent.id;
    const firstAnswer = link.acked === undefined;
    link.acked = serial;
    if (this.opts.catalog && !isCatalog(link.origin) && !link.standard) this.offerCatalog(link.agent);
    // The agent's serial and lag gauges follow on the lag clock (updateLag), not per ack.
    this.events.ack(agentId, link.origin, serial);
    const step = ackStep(serial, z.snapshot.serial, f);
    if (step === 'in-sync') {
      this.clearInflight(link);
      link.behindSince = undefined;
      if (this.debug) this.log.debug({ zone: link.origin, serial, agent: agentId }, 'agent in sync');
      return;
    }
    if (step === 'ahead') {
      // Ahead of us. Only the term may decide who wins (fencing.ts): never our serial alone,
      // or a deposed leader would leapfrog its successor.
      this.clearInflight(link);
      const term = this.opts.term;
      const verdict = aheadVerdict(term, agentTerm, firstAnswer);
      const ctx = { zone: link.origin, serial: z.snapshot.serial, agent: agentId, agentSerial: serial, term: String(term), agentTerm: agentTerm === undefined ? undefined : String(agentTerm) };
      if (verdict === 'resume' && aheadVerdict(term, agentTerm) !== 'resume') {
        // Its first answer to us: the probe before our first push missed it (timed out, or
        // it was away), so our first serial fell behind. Go past it, as the probe would have.
        this.log.warn(ctx, "agent's first answer holds a later serial of this term (our probe missed it); resuming past it");
        this.host.resumePast(link.origin, serial);
      } else if (verdict === 'resume') {
        // An older leader pushed there after we took over: our term's data wins, and serials
        // stay monotonic by resuming past the one it reached.
        this.log.warn(ctx, 'agent holds a later serial from an older term; resuming past it');
        this.host.resumePast(link.origin, serial);
      } else if (verdict === 'deposed') {
        this.fence(link, ctx);
      } else {
        this.log.warn(ctx, 'agent holds a later serial from this same term; not moving ours past it');
      }
      return;
    }
    if (step === 'send') this.send(link, 0);
  }
}
