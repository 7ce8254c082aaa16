/**
 * The primary: holds each zone with its serial and journal, serves SOA/IXFR/AXFR on one
 * port (UDP + TCP), and pushes every change to every agent as a NOTIFY carrying the diff,
 * sent from that same port. Per agent and zone at most one NOTIFY is outstanding; the next
 * one goes out when it is acknowledged (carrying everything since the acknowledged serial),
 * or when the retry timer fires (exponential backoff, capped). It knows nothing of Kubernetes.
 */
import { EventEmitter } from 'node:events';
import { randomInt } from 'node:crypto';
import type { RemoteInfo, Socket as UdpSocket } from 'node:dgram';
import type { Socket as TcpSocket } from 'node:net';
import { canonicalName, type RR } from '../dns/rr.js';
import { canonicalRR, type SoaRdata } from '../dns/rdata.js';
import { TsigStreamSigner, nowSeconds, type TsigKey } from '../dns/tsig.js';
import { applyDiff, diffRecords } from '../zone/diff.js';
import { buildSnapshot } from '../zone/snapshot.js';
import type { ZoneDiff, ZoneSnapshot } from '../zone/types.js';
import { logger, type Logger } from '../observability/logger.js';
import { Auth, type AuthOk } from './auth.js';
import { PeerRcodeError, querySoa, type Endpoint } from './client.js';
import { HEARTBEAT_DEFAULTS, Heartbeat, type HeartbeatOptions } from './heartbeat.js';
import { NOTIFY_MAX_DATAGRAM, answerSoaSerial, encodedLength, OPCODE_NOTIFY, bareNotify, OPCODE_QUERY, RCODE, decode, errorResponse, notifyMessage, readHeader, responseTo, sectionRRs, soaSerial } from './codec.js';
import { Journal, TOO_LARGE, type JournalLimits } from './journal.js';
import { advertisedInfo } from './advertise.js';
import { CATALOG_ORIGIN, catalogRecords, isCatalog } from './catalog.js';
import { aheadVerdict, answerTerm } from './fencing.js';
import type { LeaderInfo } from './leader-info.js';
import { closePair, listenPair, SYNC_TCP_LIMITS, type PortPair } from './listen.js';
import type { ConnLimits } from './conn-limit.js';
import { SendWindow, type WindowLimits } from './send-window.js';
import { RetryTimer } from './rtt.js';
import { agentDrift, heartbeatProbes, agentLag, agentSerial, notifiesAcked, notifiesRetried, notifiesSent, transfersServed, zoneSerial } from './metrics.js';
import { nextSerial, serialGt } from './serials.js';
import { frame, readFrames } from './tcp.js';
import { axfrRecords, ixfrRecords, xfrMessages, type XfrKind } from './xfr.js';

/** SOA fields other than the serial, which the primary owns. */
export interface SoaParams {
  readonly mname?: string;
  readonly rname?: string;
  readonly refresh?: number;
  readonly retry?: number;
  readonly expire?: number;
  /** Negative-caching TTL (RFC 2308). */
  readonly minimum?: number;
  /** TTL of the SOA record itself (default: minimum). */
  readonly ttl?: number;
}

export interface AgentEndpoint {
  readonly id: string;
  readonly host: string;
  readonly port: number;
}

export interface RetryPolicy {
  /** First retry after this long (default 200 ms). */
  readonly initialMs?: number;
  /** Backoff doubles up to this interval and then keeps retrying at it (default 5 s). */
  readonly maxMs?: number;
}

export interface PrimaryOptions {
  /** Where transfers are served and NOTIFYs leave from. Port 0 picks one. */
  readonly host: string;
  readonly port: number;
  /**
   * The transfer endpoint every NOTIFY names (signed) for agents to pull from. Default: the
   * bound address when it is a specific one; none for a wildcard (agents then fall back to
   * the NOTIFY's source address, which NAT may rewrite).
   */
  readonly advertise?: Endpoint;
  /** TCP connection caps of that port (SYNC_TCP_LIMITS by default). */
  readonly tcpLimits?: ConnLimits;
  /**
   * Leadership term, carried in every NOTIFY (fencing.ts): it must grow from one leader to
   * the next. 0 (the default) says none.
   */
  readonly term?: bigint;
  /** TSIG keys: the first signs; any verifies. Without keys nothing is signed or required. */
  readonly keys?: readonly TsigKey[];
  readonly journal?: JournalLimits;
  readonly retry?: RetryPolicy;
  /** Largest NOTIFY that carries a diff (default 1232); larger changes go as a plain NOTIFY. */
  readonly maxNotifySize?: number;
  /** Seconds since the epoch, for time-based serials (tests pin it). */
  readonly clock?: () => number;
  /**
   * Agents with a NOTIFY outstanding at once, and of those pulling (src/sync/send-window.ts).
   * Default in-flight: what the UDP receive buffer holds of their ACKs, 64..1024; pulls 32.
   */
  readonly window?: WindowLimits;
  /**
   * Serve and push the list of zones as an RFC 9432 catalog zone (catalog.ts), from the
   * moment the set is complete (markZonesLoaded): agents drop zones it does not list.
   */
  readonly catalog?: boolean;
  /** SOA probes that find agents whose state differs from what we believe (heartbeat.ts); false: off. */
  readonly heartbeat?: Partial<HeartbeatOptions> | false;
  readonly log?: Logger;
}

export interface AgentZoneState {
  readonly origin: string;
  /** Last serial the agent acknowledged; undefined before it ever answered with one. */
  readonly ackedSerial: number | undefined;
  readonly currentSerial: number;
  readonly inSync: boolean;
  /** Seconds the agent has been behind, 0 when in sync. */
  readonly lagSeconds: number;
  /** Since when (ms since the epoch) it has been behind; undefined when in sync. */
  readonly behindSince: number | undefined;
  /** NOTIFYs sent for the outstanding change, 0 when nothing is outstanding. */
  readonly attempts: number;
  /** The last thing that went wrong with this agent and zone, for people (dnssync status). */
  readonly lastError: string | undefined;
}

export interface AgentState extends AgentEndpoint {
  readonly zones: AgentZoneState[];
}

export interface PrimaryEvents {
  /** An agent acknowledged `serial` for `origin` (it now serves exactly that serial). */
  ack: [agentId: string, origin: string, serial: number];
  /** A zone got a new serial (persist it to survive restarts). */
  serial: [origin: string, serial: number];
  /** An agent follows a newer leadership term than ours for `origin`. */
  deposed: [agentId: string, origin: string];
  /**
   * The heartbeat found an agent holding other than what it acknowledged (a restart in
   * place, lost state): `serial` is what it holds now, undefined when it lacks the zone.
   * The agent is being brought back up to date.
   */
  drift: [agentId: string, origin: string, serial: number | undefined];
}

interface Zone {
  snapshot: ZoneSnapshot;
  readonly journal: Journal;
  params: SoaParams;
  /**
   * Encoded NOTIFYs for the current serial by base serial ('plain' for none): a hundred
   * agents mostly share one base, so each change is encoded once and only signed per agent.
   */
  notifies: Map<string, CachedNotify>;
  /**
   * Encoded transfer answers for the current serial (ID 0, unsigned) by type, base serial and
   * question: agents handed a plain NOTIFY for a large change all pull the same transfer,
   * which is encoded once and only re-stamped and signed per request.
   */
  transfers: Map<string, CachedTransfer>;
}

interface CachedTransfer {
  readonly kind: XfrKind;
  readonly messages: readonly Buffer[];
}

/** Distinct transfers kept per serial; more are encoded per request. */
const MAX_CACHED_TRANSFERS = 16;

interface CachedNotify {
  readonly bytes: Buffer;
  readonly kind: 'diff' | 'leg' | 'plain';
  readonly from: number | undefined;
  /** The serial it brings an agent to: the zone's, or a leg's end on the way there. */
  readonly to: number;
  /**
   * The same message signed (ID 0), shared by every agent at this base serial: TSIG covers
   * the Original ID field, not the header ID (RFC 8945 §4.3.1), so each agent's copy only
   * gets its own ID written over the header; verifiers restore the Original ID before the
   * MAC. Re-signed when the second changes, so a retry never carries an old time.
   */
  signed: { readonly wire: Buffer; readonly mac: Buffer | undefined; readonly second: number } | undefined;
}

interface Inflight {
  readonly ids: Set<number>;
  attempt: number;
  timer: NodeJS.Timeout | undefined;
  /** Base serial of the diff last sent, or undefined when it was a plain NOTIFY. */
  lastFrom: number | undefined;
  lastTo: number;
  /** Answered without a serial: the peer is transferring; a new change must not wait on it. */
  receipt: boolean;
  /** When the last NOTIFY left (performance.now), for the round-trip estimate. */
  sentAt: number;
  /** Base serial of the first NOTIFY of the chain last sent (legs go back to back). */
  firstFrom: number | undefined;
}

interface Link {
  readonly agent: Agent;
  readonly origin: string;
  acked: number | undefined;
  behindSince: number | undefined;
  inflight: Inflight | undefined;
  /**
   * A standard secondary (BIND, Knot): its NOTIFY answer carries no SOA, so what it holds
   * is learnt from the transfers it completes with us instead.
   */
  standard: boolean;
  /**
   * The peer answered a diff-carrying NOTIFY with FORMERR: BIND's parser refuses two SOA
   * records in one section outside a transfer. It gets plain NOTIFYs (and pulls) from now on.
   */
  plainOnly: boolean;
  /** MAC of the shared-signature NOTIFY last sent on this link (see send). */
  lastSharedMac: Buffer | undefined;
  /** The agent follows a newer leadership term: we are deposed there and push no more. */
  fenced: boolean;
  /** The last refusal, bad answer or loss of data seen from this agent for this zone. */
  lastError: string | undefined;
  /**
   * Shared MACs sent to this agent before the last one: legs go back to back, so a retry of a
   * chain repeats MACs other than the last (a replay to the agent's cache). Last few only.
   */
  sharedMacs: Buffer[];
}

interface Agent extends AgentEndpoint {
  readonly links: Map<string, Link>;
}

interface Sent {
  readonly link: Link;
  readonly mac: Buffer | undefined;
}

/**
 * Legs sent back to back at most (the way on then continues when the last is acknowledged).
 * One: chains of 4 were measured worse — a retry resends the whole chain, and at 1,000
 * simulated agents retries went from 4,233 to 26,828 in a 5 s feed, with 1,060 pulls instead
 * of none (bench-fleet). Kept as a knob for a faster network than this shared machine.
 */
const CHAINED_LEGS = 1;

/** Retries after which an agent that does not answer leaves the send window (retrying outside it). */
const WINDOW_RETRIES = 3;

/** Receive buffer the primary asks for: ACKs of a whole window must fit (the kernel may cap it). */
const RECV_BUFFER = 4 << 20;

/** Most records (condensed) an agent may be behind and still catch up by legs. */
const LEG_MAX_RECORDS = 512;

/** Smallest possible resource record on the wire. */
const MIN_RR_WIRE = 11;

const DEFAULT_SOA = { refresh: 60, retry: 10, expire: 3600, minimum: 5 };

/**
 * The catalog's timers: agents re-check it every minute as a safety net for a lost NOTIFY;
 * its expire only marks an agent unready (the catalog is never answered), so it is long.
 */
const CATALOG_SOA: SoaParams = { refresh: 60, retry: 10, expire: 7 * 86_400, minimum: 0 };

export class ZoneNotFoundError extends Error {
  override readonly name = 'ZoneNotFoundError';
}

export class Primary extends EventEmitter<PrimaryEvents> {
  private readonly zones = new Map<string, Zone>();
  private readonly floors = new Map<string, number>();
  private readonly agents = new Map<string, Agent>();
  private readonly sent = new Map<number, Sent>();
  private readonly conns = new Set<TcpSocket>();
  private readonly auth: Auth;
  private readonly log: Logger;
  private readonly clock: () => number;
  private readonly retryInitial: number;
  private readonly retryMax: number;
  private readonly maxNotify: number;
  private closed = false;
  private zonesLoaded = false;
  private readonly debug: boolean;
  private readonly lagTimer: NodeJS.Timeout;
  private readonly term: bigint;
  /** Term and transfer endpoint carried in every NOTIFY; undefined when there is nothing to say. */
  private readonly info: LeaderInfo | undefined;
  private readonly window: SendWindow<Link>;
  private readonly retry: RetryTimer;
  private readonly heartbeat: Heartbeat<Link> | undefined;

  private constructor(
    private readonly pair: PortPair,
    private readonly opts: PrimaryOptions,
    auth: Auth,
  ) {
    super();
    this.auth = auth;
    this.log = opts.log ?? logger('primary');
    this.debug = this.log.isLevelEnabled('debug');
    this.clock = opts.clock ?? (() => Math.floor(Date.now() / 1000));
    this.retryInitial = opts.retry?.initialMs ?? 200;
    this.retryMax = opts.retry?.maxMs ?? 5000;
    this.maxNotify = opts.maxNotifySize ?? NOTIFY_MAX_DATAGRAM;
    this.term = opts.term ?? 0n;
    this.info = advertisedInfo(pair, opts.advertise, this.term);
    this.retry = new RetryTimer(this.retryInitial, this.retryMax);
    this.window = new SendWindow({ maxInFlight: opts.window?.maxInFlight ?? windowFor(pair.udp), maxPulls: opts.window?.maxPulls });
    // Lag is "seconds behind", which grows while nothing happens: refresh it on a clock, and
    // the acked serials with it (a hundred agents ack every change: not worth a gauge write each).
    this.lagTimer = setInterval(() => this.updateLag(), 1000);
    this.lagTimer.unref();
    if (opts.heartbeat !== false) {
      this.heartbeat = new Heartbeat({ ...HEARTBEAT_DEFAULTS, ...opts.heartbeat }, () => this.settledLinks(), (l) => this.checkAgent(l));
      this.heartbeat.start();
    }
  }

  /**
   * Links with nothing outstanding: what we believe of them is what the heartbeat checks. Not
   * fenced ones: an agent that follows a newer leader is not ours to resync, and probing it
   * would report its successor's data as drift (an event the controller acts on) every round.
   */
  private settledLinks(): Link[] {
    const out: Link[] = [];
    for (const a of this.agents.values()) for (const l of a.links.values()) if (!l.inflight && l.acked !== undefined && !l.fenced) out.push(l);
    return out;
  }

  /** One heartbeat probe: the agent's SOA, compared with the serial it last acknowledged. */
  private async checkAgent(link: Link): Promise<void> {
    let holds: number | undefined;
    const believed = link.acked;
    heartbeatProbes.inc();
    try {
      holds = soaSerial(await querySoa(link.agent, link.origin, this.auth, 1000));
    } catch (err) {
      // No answer says nothing about its data (its Pod status covers liveness); REFUSED does.
      if (!(err instanceof PeerRcodeError && err.rcode === RCODE.REFUSED)) return;
    }
    // Anything acknowledged meanwhile is newer than this answer: then it says nothing.
    if (this.closed || link.inflight || link.fenced || link.agent.links.get(link.origin) !== link || link.acked !== believed || holds === believed) return;
    this.log.warn({ zone: link.origin, agent: link.agent.id, serial: link.acked, agentSerial: holds ?? null }, 'agent holds other than it acknowledged (restarted or lost state); resyncing it');
    agentDrift.inc();
    link.lastError = `held ${holds ?? 'no zone'} after acknowledging ${link.acked ?? 'nothing'} (restarted or lost state); resynced`;
    link.acked = holds;
    this.emit('drift', link.agent.id, link.origin, holds);
    this.kick(link);
  }

  private updateLag(): void {
    const now = Date.now();
    for (const a of this.agents.values()) {
      for (const l of a.links.values()) {
        agentLag.set({ agent: a.id, zone: l.origin }, l.behindSince === undefined ? 0 : (now - l.behindSince) / 1000);
        if (l.acked !== undefined) agentSerial.set({ agent: a.id, zone: l.origin }, l.acked);
      }
    }
  }

  static async start(opts: PrimaryOptions): Promise<Primary> {
    const auth = new Auth(opts.keys ?? [], 'primary');
    const ref: { self?: Primary } = {};
    const pair = await listenPair(opts.host, opts.port, {
      udp: (msg, rinfo) => ref.self?.onUdp(msg, rinfo),
      tcp: (sock) => (ref.self ? ref.self.onTcp(sock) : sock.destroy()),
    }, { role: 'primary', limits: opts.tcpLimits ?? SYNC_TCP_LIMITS.primary });
    const self = new Primary(pair, opts, auth);
    ref.self = self;
    const adv = self.info?.transfer;
    self.log.info({ host: pair.host, port: pair.port, tsig: auth.enabled, advertise: adv && `${adv.host}:${adv.port}` }, 'primary listening for transfers; NOTIFYs leave from this port');
    if (!adv) self.log.warn('no transfer endpoint to advertise (wildcard listen address): agents will pull from the NOTIFY source address, which NAT may rewrite; set --transfer-advertise');
    return self;
  }

  get address(): Endpoint {
    return { host: this.pair.host, port: this.pair.port };
  }

  // -------------------------------------------------------------------------------------------
  // Zones

  /** The current snapshot of a zone. */
  zone(origin: string): ZoneSnapshot | undefined {
    return this.zones.get(canonicalName(origin))?.snapshot;
  }

  origins(): string[] {
    return [...this.zones.keys()];
  }

  /** Current serial of every zone (what a state file persists). */
  serials(): Record<string, number> {
    return Object.fromEntries([...this.zones].map(([o, z]) => [o, z.snapshot.serial]));
  }

  /**
   * The next serial of `origin` will be newer than `serial`: feed it what survived a restart
   * (a state file, the agents' SOA answers) before the first setZone.
   */
  raiseSerialFloor(origin: string, serial: number): void {
    const o = canonicalName(origin);
    const cur = this.floors.get(o);
    if (cur === undefined || serialGt(serial, cur)) this.floors.set(o, serial >>> 0);
  }

  /**
   * Replaces a zone's records (no SOA among them: the primary makes it) and pushes the
   * difference. Returns the zone's serial, unchanged when nothing changed. Throws ZoneError
   * when the records do not form a valid zone; the old zone stays.
   */
  setZone(origin: string, records: Iterable<RR>, params: SoaParams = {}): number {
    const o = canonicalName(origin);
    const list = [...records].filter((rr) => rr.type !== 'SOA');
    const cur = this.zones.get(o);
    if (!cur) {
      const serial = this.firstSerial(o);
      const snapshot = buildSnapshot(o, [this.makeSoa(o, serial, params), ...list]);
      this.zones.set(o, { snapshot, journal: new Journal(this.opts.journal), params, notifies: new Map(), transfers: new Map() });
      // The catalog first: an agent that re-checks the catalog after this zone's NOTIFY then
      // finds it listed, and does not drop it as unknown.
      if (!isCatalog(o)) this.publishCatalog();
      this.published(o, snapshot.serial);
      return snapshot.serial;
    }
    const changes = diffRecords(cur.snapshot.records(), list);
    return this.commit(o, cur, changes.deleted, changes.added, params);
  }

  /**
   * Applies a known change without comparing whole zones: O(change), for callers that
   * already know what changed. Throws DiffConflictError when it does not fit the zone.
   */
  updateZone(origin: string, change: { deleted: readonly RR[]; added: readonly RR[] }, params?: SoaParams): number {
    const o = canonicalName(origin);
    const cur = this.zones.get(o);
    if (!cur) throw new ZoneNotFoundError(`zone ${o} is not served here`);
    return this.commit(o, cur, change.deleted.map((r) => canonicalRR(r)), change.added.map((r) => canonicalRR(r)), params ?? cur.params);
  }

  /**
   * As updateZone, but a change too large for one NOTIFY datagram is committed as several
   * serials, each a group of whole RRsets (a name and type never straddles two) small enough
   * to travel in one NOTIFY. For callers whose change is itself a batch of independent edits
   * (the controller coalescing a burst of API objects): a catching-up agent then never meets
   * a step it has to pull over TCP, which under a sustained stream costs far more than a few
   * extra serials. Returns the last serial.
   */
  updateZoneInSteps(origin: string, change: { deleted: readonly RR[]; added: readonly RR[] }, params?: SoaParams): number {
    const o = canonicalName(origin);
    const cur = this.zones.get(o);
    if (!cur) throw new ZoneNotFoundError(`zone ${o} is not served here`);
    const deleted = change.deleted.map((r) => canonicalRR(r));
    const added = change.added.map((r) => canonicalRR(r));
    const room = this.stepRoom(cur);
    const size = inZoneLength(o);
    let total = 0;
    for (const rr of deleted) total += size(rr);
    for (const rr of added) total += size(rr);
    if (total <= room) return this.commit(o, cur, deleted, added, params ?? cur.params);
    const groups = new Map<string, { deleted: RR[]; added: RR[]; size: number }>();
    const group = (rr: RR): { deleted: RR[]; added: RR[]; size: number } => {
      const k = `${rr.name}\u0000${rr.type}`;
      let g = groups.get(k);
      if (!g) groups.set(k, (g = { deleted: [], added: [], size: 0 }));
      g.size += size(rr);
      return g;
    };
    for (const rr of deleted) group(rr).deleted.push(rr);
    for (const rr of added) group(rr).added.push(rr);
    let serial = cur.snapshot.serial;
    let step = { deleted: [] as RR[], added: [] as RR[], size: 0 };
    const flush = (): void => {
      if (step.deleted.length + step.added.length > 0) serial = this.commit(o, cur, step.deleted, step.added, params ?? cur.params);
      step = { deleted: [], added: [], size: 0 };
    };
    for (const g of groups.values()) {
      if (step.size + g.size > room) flush();
      step.deleted.push(...g.deleted);
      step.added.push(...g.added);
      step.size += g.size;
    }
    flush();
    return serial;
  }

  /** Bytes a step's records may take, uncompressed, for its NOTIFY to fit one datagram. */
  private stepRoom(z: Zone): number {
    const soa = z.snapshot.soa;
    const empty = notifyMessage(0, soa, { origin: z.snapshot.origin, fromSerial: z.snapshot.serial, toSerial: z.snapshot.serial, soa, deleted: [], added: [] }, this.info);
    return this.maxNotify - this.auth.request(empty).wire.length;
  }

  /**
   * Declares the set of zones complete (after the first setZone calls of a start). Until
   * then a query for an unknown zone gets SERVFAIL ("ask again"), not REFUSED, which an
   * agent takes to mean the zone was removed.
   */
  markZonesLoaded(): void {
    this.zonesLoaded = true;
    this.publishCatalog();
  }

  /**
   * Whether to offer `a` the catalog: only a dnssync agent follows it, known by a NOTIFY
   * answer carrying its serial (a standard secondary's carries none, and BIND or Knot
   * answer a NOTIFY for a zone they lack unsigned, which would be retried for ever) — or,
   * when we serve no other zone, anyone.
   */
  private followsCatalog(a: Agent): boolean {
    for (const l of a.links.values()) if (l.acked !== undefined && !l.standard) return true;
    // No zone but the catalog: nothing else would ever show it, and an agent holding zones
    // deleted while no leader ran must still hear that none is left.
    return this.zones.size === 1 && this.zones.has(CATALOG_ORIGIN);
  }

  /** An agent just showed it is a dnssync agent: bring its catalog up to date if it is not. */
  private offerCatalog(a: Agent): void {
    const cat = this.zones.get(CATALOG_ORIGIN);
    if (!cat) return;
    const l = a.links.get(CATALOG_ORIGIN);
    if (l === undefined || (l.acked !== cat.snapshot.serial && !l.inflight)) this.kick(this.link(a, CATALOG_ORIGIN));
  }

  /** The catalog as the zones stand now (only once their set is complete). */
  private publishCatalog(): void {
    if (!this.opts.catalog || !this.zonesLoaded || this.closed) return;
    this.setZone(CATALOG_ORIGIN, catalogRecords([...this.zones.keys()].filter((o) => !isCatalog(o))), CATALOG_SOA);
  }

  removeZone(origin: string): void {
    const o = canonicalName(origin);
    if (!this.zones.delete(o)) return;
    for (const a of this.agents.values()) {
      const link = a.links.get(o);
      if (link) this.dropLink(link);
      // One NOTIFY without a serial: the agent checks, is refused, and drops the zone now
      // rather than at its next SOA refresh. Not retried: the refresh is the safety net.
      this.pair.udp.send(this.auth.request(bareNotify(randomInt(0, 65536), o, this.info)).wire, a.port, a.host);
    }
    zoneSerial.remove({ zone: o, role: 'primary' });
    this.log.info({ zone: o }, 'zone removed');
    this.publishCatalog();
  }

  /** `past`: a serial seen elsewhere that the new one must exceed (forces a new serial). */
  private commit(o: string, cur: Zone, deleted: readonly RR[], added: readonly RR[], params: SoaParams, past?: number): number {
    const soaChanged = !sameParams(cur.params, params);
    if (deleted.length === 0 && added.length === 0 && !soaChanged && past === undefined) return cur.snapshot.serial;
    const base = past !== undefined && serialGt(past, cur.snapshot.serial) ? past : cur.snapshot.serial;
    const serial = nextSerial(base, this.clock());
    const diff: ZoneDiff = { origin: o, fromSerial: cur.snapshot.serial, toSerial: serial, soa: this.makeSoa(o, serial, params), deleted, added };
    cur.snapshot = applyDiff(cur.snapshot, diff);
    cur.notifies.clear();
    cur.transfers.clear();
    cur.params = params;
    cur.journal.append(diff);
    this.published(o, serial);
    return serial;
  }

  private firstSerial(o: string): number {
    const floor = this.floors.get(o);
    const now = this.clock() >>> 0;
    return floor === undefined ? now : nextSerial(floor, now);
  }

  private makeSoa(o: string, serial: number, p: SoaParams): RR {
    const minimum = p.minimum ?? DEFAULT_SOA.minimum;
    const data: SoaRdata = {
      mname: p.mname ?? (o ? `ns.${o}` : 'ns'),
      rname: p.rname ?? (o ? `hostmaster.${o}` : 'hostmaster'),
      serial,
      refresh: p.refresh ?? DEFAULT_SOA.refresh,
      retry: p.retry ?? DEFAULT_SOA.retry,
      expire: p.expire ?? DEFAULT_SOA.expire,
      minimum,
    };
    return canonicalRR({ name: o, type: 'SOA', ttl: p.ttl ?? minimum, data });
  }

  private published(o: string, serial: number): void {
    zoneSerial.set({ zone: o, role: 'primary' }, serial);
    // Info, like BIND's per-transfer lines: one line per published serial (changes are
    // coalesced first), so `kubectl logs` shows every change at the default level.
    this.log.info({ zone: o, serial }, 'zone has a new serial');
    this.emit('serial', o, serial);
    for (const a of this.agents.values()) this.kick(this.link(a, o));
  }

  // -------------------------------------------------------------------------------------------
  // Agents

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
      for (const o of this.zones.keys()) this.kick(this.link(agent, o));
    }
  }

  /** The send window: agents with a NOTIFY outstanding, of those pulling, and waiting for a slot. */
  get fanout(): { inFlight: number; pulling: number; queued: number; maxInFlight: number; maxPulls: number; retryMs: number } {
    const w = this.window;
    return { inFlight: w.inFlight, pulling: w.pulling, queued: w.queued, maxInFlight: w.maxInFlight, maxPulls: w.maxPulls, retryMs: Math.round(this.retry.delay(0)) };
  }

  agentStates(): AgentState[] {
    const now = Date.now();
    return [...this.agents.values()].map((a) => ({
      id: a.id,
      host: a.host,
      port: a.port,
      zones: [...this.zones.entries()].map(([o, z]) => {
        const link = a.links.get(o);
        const inSync = link?.acked === z.snapshot.serial;
        return {
          origin: o,
          ackedSerial: link?.acked,
          currentSerial: z.snapshot.serial,
          inSync,
          lagSeconds: inSync || !link?.behindSince ? 0 : (now - link.behindSince) / 1000,
          behindSince: inSync ? undefined : (link?.behindSince ?? now),
          attempts: link?.inflight?.attempt ?? 0,
          lastError: lastError(link),
        };
      }),
    }));
  }

  /**
   * Asks every agent for its serial of each origin (SOA over UDP to its sync port) and raises
   * the serial floors to the newest answer: after a failover, the first push is then newer
   * than anything an agent holds. Agents that do not answer in time are skipped.
   */
  async probeSerials(origins: readonly string[], timeoutMs = 1000): Promise<Record<string, number>> {
    const found: Record<string, number> = {};
    const asks: Promise<void>[] = [];
    const all = this.opts.catalog && origins.length > 0 ? [...origins, CATALOG_ORIGIN] : origins;
    for (const a of this.agents.values()) {
      for (const origin of all) {
        const o = canonicalName(origin);
        asks.push(
          querySoa(a, o, this.auth, timeoutMs).then(
            (soa) => {
              const s = soaSerial(soa);
              if (s === undefined) return;
              this.raiseSerialFloor(o, s);
              const prev = found[o];
              if (prev === undefined || serialGt(s, prev)) found[o] = s;
            },
            () => undefined,
          ),
        );
      }
    }
    await Promise.all(asks);
    return found;
  }

  private link(a: Agent, o: string): Link {
    let l = a.links.get(o);
    if (!l) {
      l = { agent: a, origin: o, acked: undefined, behindSince: undefined, inflight: undefined, standard: false, plainOnly: false, lastSharedMac: undefined, fenced: false, lastError: undefined, sharedMacs: [] };
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
    for (const id of f.ids) this.sent.delete(id);
    link.inflight = undefined;
  }

  /** Sends the next NOTIFY unless one is already outstanding (its ACK or retry carries on). */
  private kick(link: Link): void {
    const z = this.zones.get(link.origin);
    if (!z || this.closed || link.fenced) return;
    if (link.acked === z.snapshot.serial) return;
    if (link.acked === undefined && isCatalog(link.origin) && !this.followsCatalog(link.agent)) return;
    link.behindSince ??= Date.now();
    if (link.inflight && !link.inflight.receipt) return;
    this.send(link, 0);
  }

  /** Gives `link`'s window slot back and sends to the agents queued for one. */
  private released(link: Link): void {
    const work = this.window.release(link);
    for (let i = 0; i < work.length; i++) {
      const l = work[i] as Link;
      const z = this.zones.get(l.origin);
      if (!this.closed && z && l.acked !== z.snapshot.serial && l.agent.links.get(l.origin) === l && this.agents.get(l.agent.id) === l.agent) this.send(l, 0);
      else work.push(...this.window.release(l));
    }
  }

  private send(link: Link, attempt: number): void {
    const z = this.zones.get(link.origin);
    if (!z || this.closed) return;
    // A fan-out is a window (send-window.ts); one that keeps not answering leaves it.
    if (attempt >= WINDOW_RETRIES) this.released(link);
    else if (!link.inflight && !this.window.admit(link, this.notifyFor(z, link.plainOnly ? undefined : link.acked).kind === 'plain')) return;
    const f: Inflight = link.inflight ?? { ids: new Set(), attempt, timer: undefined, lastFrom: undefined, lastTo: z.snapshot.serial, receipt: false, sentAt: 0, firstFrom: undefined };
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
      const kind = this.sendOne(link, z, f, from, attempt);
      if (kind !== 'leg' || legs >= CHAINED_LEGS || !this.sharesSignature(link)) break;
      from = f.lastTo;
    }
    const delay = this.retry.delay(attempt);
    f.timer = setTimeout(() => this.send(link, attempt + 1), delay);
    f.timer.unref();
  }

  /** Sends `link` the NOTIFY for an agent at `from`; returns its kind. */
  private sendOne(link: Link, z: Zone, f: Inflight, from: number | undefined, attempt: number): CachedNotify['kind'] {
    const id = this.freeId();
    let n = this.notifyFor(z, from);
    // A standard secondary reads only the serial a NOTIFY announces and ignores one it already
    // holds: a leg (announcing a serial short of the current one) could stall it there.
    if (n.kind === 'leg' && link.standard) n = this.notifyFor(z, undefined);
    // The shared copy's MAC repeats within its second; an agent refuses a MAC it has taken
    // before (its replay cache), so a second sending to the same agent is signed for it alone.
    const shared = this.sharesSignature(link) ? this.signedNotify(n) : undefined;
    const taken = shared?.mac !== undefined && link.sharedMacs.some((m) => m.equals(shared.mac as Buffer));
    const msg = shared && !taken ? this.restamped(shared, id) : this.auth.request(this.restamped({ wire: n.bytes }, id).wire);
    link.lastSharedMac = shared === undefined ? undefined : shared.mac;
    if (shared?.mac && !taken) {
      link.sharedMacs.push(shared.mac);
      if (link.sharedMacs.length > Math.max(4, 2 * CHAINED_LEGS)) link.sharedMacs.shift();
    }
    const kind = n.kind;
    f.lastFrom = n.from;
    f.lastTo = n.to;
    // Keep earlier IDs of this outstanding change: a late ACK to a retransmission still counts.
    if (f.ids.size >= 2 * CHAINED_LEGS) {
      const oldest = f.ids.values().next().value as number;
      f.ids.delete(oldest);
      this.sent.delete(oldest);
    }
    f.ids.add(id);
    this.sent.set(id, { link, mac: msg.mac });
    notifiesSent.inc({ kind });
    if (attempt > 0) notifiesRetried.inc();
    // Guarded: the object would be built for every NOTIFY, a hundred per change, even unlogged.
    if (this.debug) this.log.debug({ zone: link.origin, serial: z.snapshot.serial, agent: link.agent.id, kind, attempt, from: f.lastFrom }, 'NOTIFY sent');
    f.sentAt = performance.now();
    this.pair.udp.send(msg.wire, link.agent.port, link.agent.host);
    return kind;
  }

  /** The NOTIFY (ID 0, unsigned) for agents at serial `from`, encoded once per serial. */
  private notifyFor(z: Zone, from: number | undefined): CachedNotify {
    const key = from === undefined ? 'plain' : String(from);
    const hit = z.notifies.get(key);
    if (hit) return hit;
    const out = (from !== undefined && (this.diffNotify(z, from) ?? this.legNotify(z, from))) || { bytes: notifyMessage(0, z.snapshot.soa, undefined, this.info), kind: 'plain', from: undefined, to: z.snapshot.serial, signed: undefined };
    z.notifies.set(key, out);
    return out;
  }

  /** A NOTIFY carrying everything since `from`, when that fits one datagram. */
  private diffNotify(z: Zone, from: number): CachedNotify | undefined {
    // A record takes at least 11 bytes on the wire (root or pointer name, type, class, TTL,
    // rdlength), so a diff with more records cannot fit: skip building and encoding it.
    const diff = z.journal.diffWithin(from, Math.floor(this.maxNotify / MIN_RR_WIRE));
    if (!diff || diff === TOO_LARGE || diff.toSerial !== z.snapshot.serial) return undefined;
    return this.fitting(diff);
  }

  /**
   * For an agent whose way to the current serial does not fit one datagram: a NOTIFY for the
   * first leg that does (announcing the leg's serial). Its answer reports that serial and the
   * next leg follows at once, so an agent that fell behind under a sustained stream of
   * changes catches up over UDP in a few round trips instead of dropping to a TCP pull; one
   * change too large for a datagram still goes as a plain NOTIFY (the agent pulls it).
   */
  private legNotify(z: Zone, from: number): CachedNotify | undefined {
    const room = this.stepRoom(z);
    if (room <= 0) return undefined;
    // Legs go one per round trip; an agent further behind than a few of them catches up
    // sooner with one IXFR (a plain NOTIFY), which carries any amount per round trip.
    if (z.journal.diffWithin(from, LEG_MAX_RECORDS) === TOO_LARGE) return undefined;
    const diff = z.journal.diffPrefix(from, room, inZoneLength(z.snapshot.origin));
    return diff && this.fitting(diff);
  }

  /** The encoded NOTIFY carrying `diff`, if it fits a datagram once signed. */
  private fitting(diff: ZoneDiff): CachedNotify | undefined {
    const bytes = notifyMessage(0, diff.soa, diff, this.info);
    // The TSIG record adds a fixed amount per key; sign once to learn whether it fits.
    const second = nowSeconds();
    const signed = this.auth.request(bytes);
    if (signed.wire.length > this.maxNotify) return undefined;
    return { bytes, kind: diff.toSerial === this.zones.get(diff.origin)?.snapshot.serial ? 'diff' : 'leg', from: diff.fromSerial, to: diff.toSerial, signed: { ...signed, second } };
  }

  /**
   * Whether this peer may get the NOTIFY signed once for everyone. A verifier must restore the
   * Original ID before checking the MAC; dnssync agents do, but Knot (test/sync/knot.test.ts)
   * stopped acknowledging NOTIFYs whose header ID differed from the signed one. So only a peer
   * known to be a dnssync agent gets the shared copy: one that has acknowledged with a
   * serial, which standard secondaries never do; everyone else gets a copy signed for it.
   */
  private sharesSignature(link: Link): boolean {
    return link.acked !== undefined && !link.standard;
  }

  /** A copy of `m` with header ID `id`. */
  private restamped<T extends { readonly wire: Buffer }>(m: T, id: number): T {
    const wire = Buffer.allocUnsafe(m.wire.length);
    m.wire.copy(wire);
    wire.writeUInt16BE(id, 0);
    return { ...m, wire };
  }

  private signedNotify(n: CachedNotify): { readonly wire: Buffer; readonly mac: Buffer | undefined } {
    const second = nowSeconds();
    if (n.signed?.second !== second) n.signed = { ...this.auth.request(n.bytes), second };
    return n.signed;
  }

  /** Polls the peer's SOA with backoff until it reports a serial; re-NOTIFYs at the cap. */
  private probe(link: Link, f: Inflight, delay: number): void {
    if (f.timer) clearTimeout(f.timer);
    f.timer = setTimeout(() => {
      if (link.inflight !== f || this.closed) return;
      if (delay >= this.retryMax) {
        this.send(link, f.attempt + 1);
        return;
      }
      querySoa(link.agent, link.origin, this.auth, 1000).then(
        (soa) => {
          if (link.inflight !== f || this.closed) return;
          const s = soaSerial(soa);
          const cur = this.zones.get(link.origin)?.snapshot.serial;
          if (s !== undefined && cur !== undefined && !serialGt(cur, s)) this.onAck(link, s);
          else this.probe(link, f, delay * 2);
        },
        () => {
          if (link.inflight === f && !this.closed) this.probe(link, f, delay * 2);
        },
      );
    }, delay);
    f.timer.unref();
  }

  /** The agent follows a newer leader: stop pushing to it (its refusals would only repeat). */
  private fence(link: Link, ctx: Record<string, unknown>): void {
    this.clearInflight(link);
    if (!link.fenced) this.log.warn(ctx, 'agent follows a newer leadership term: we are deposed there, no more pushes to it');
    link.lastError = 'follows a newer leadership term (this controller is deposed there)';
    link.fenced = true;
    this.emit('deposed', link.agent.id, link.origin);
  }

  private freeId(): number {
    for (;;) {
      const id = randomInt(0, 65536);
      if (!this.sent.has(id)) return id;
    }
  }

  private onAck(link: Link, serial: number | undefined, agentTerm?: bigint): void {
    const z = this.zones.get(link.origin);
    const f = link.inflight;
    if (!z || !f) return;
    notifiesAcked.inc();
    if (serial === undefined) {
      // Receipt without a serial: a standard secondary (RFC 1996 answers carry none), or an
      // agent still pulling. Either transfers from us; learn when it is done by asking for
      // its SOA, and NOTIFY again only when that takes long.
      link.standard = true;
      f.receipt = true;
      this.probe(link, f, this.retryInitial / 2);
      return;
    }
    // A diff's round trip (a plain NOTIFY's answer waits for the pull it started).
    if (f.attempt === 0 && f.lastFrom !== undefined) this.retry.sample(performance.now() - f.sentAt);
    const agentId = link.agent.id;
    link.acked = serial;
    if (this.opts.catalog && !isCatalog(link.origin) && !link.standard) this.offerCatalog(link.agent);
    // The agent's serial and lag gauges follow on the lag clock (updateLag), not per ack.
    this.emit('ack', agentId, link.origin, serial);
    if (serial === z.snapshot.serial) {
      this.clearInflight(link);
      link.behindSince = undefined;
      if (this.debug) this.log.debug({ zone: link.origin, serial, agent: agentId }, 'agent in sync');
      return;
    }
    if (serialGt(serial, z.snapshot.serial)) {
      // Ahead of us. Only the term may decide who wins (fencing.ts): never our serial alone,
      // or a deposed leader would leapfrog its successor.
      this.clearInflight(link);
      const verdict = aheadVerdict(this.term, agentTerm);
      const ctx = { zone: link.origin, serial: z.snapshot.serial, agent: agentId, agentSerial: serial, term: String(this.term), agentTerm: agentTerm === undefined ? undefined : String(agentTerm) };
      if (verdict === 'resume') {
        // An older leader pushed there after we took over: our term's data wins, and serials
        // stay monotonic by resuming past the one it reached.
        this.log.warn(ctx, 'agent holds a later serial from an older term; resuming past it');
        this.raiseSerialFloor(link.origin, serial);
        this.commit(link.origin, z, [], [], z.params, serial);
      } else if (verdict === 'deposed') {
        this.fence(link, ctx);
      } else {
        this.log.warn(ctx, 'agent holds a later serial from this same term; not moving ours past it');
      }
      return;
    }
    // Behind. If we already offered a diff from exactly this serial (or a plain NOTIFY) and it
    // is still here, it is pulling or failing: let the backoff pace us. Else catch up at once.
    if (f.lastTo === z.snapshot.serial && (f.lastFrom === serial || f.lastFrom === undefined)) return;
    // Part way along a chain of legs: the rest are on their way (a lost one is retried).
    if (f.firstFrom !== undefined && f.lastFrom !== undefined && serialGt(serial, f.firstFrom) && !serialGt(serial, f.lastFrom)) return;
    this.send(link, 0);
  }

  // -------------------------------------------------------------------------------------------
  // Wire

  private onUdp(raw: Buffer, rinfo: RemoteInfo): void {
    let h;
    try {
      h = readHeader(raw);
    } catch {
      return;
    }
    if (h.qr) {
      this.onResponse(raw, h.id, h.opcode, h.rcode, rinfo);
      return;
    }
    const reply = this.answer(raw, false);
    for (const m of reply) this.pair.udp.send(m, rinfo.port, rinfo.address);
  }

  private onResponse(raw: Buffer, id: number, opcode: number, rcode: number, rinfo: RemoteInfo): void {
    const s = this.sent.get(id);
    if (!s || opcode !== OPCODE_NOTIFY) return;
    if (s.link.agent.host !== rinfo.address) return;
    const f = s.link.inflight;
    if (rcode === RCODE.FORMERR && f && f.lastFrom !== undefined && !s.link.plainOnly) {
      // Unsigned, as a parser failure is: the worst a forger gains is a pull instead of a push.
      this.log.info({ zone: s.link.origin, agent: s.link.agent.id }, 'peer cannot parse a NOTIFY carrying a diff; sending it plain NOTIFYs');
      s.link.plainOnly = true;
      this.send(s.link, 0);
      return;
    }
    let msg: Buffer;
    try {
      msg = this.auth.response(raw, s.mac);
    } catch (err) {
      this.log.warn({ zone: s.link.origin, agent: s.link.agent.id, err: String(err) }, 'NOTIFY response failed TSIG verification; ignored');
      s.link.lastError = `NOTIFY answer failed TSIG verification: ${String(err)}`;
      return;
    }
    if (rcode !== RCODE.NOERROR) {
      const t = rcode === RCODE.REFUSED ? answerTerm(msg) : undefined;
      if (t !== undefined && t > this.term) {
        this.fence(s.link, { zone: s.link.origin, agent: s.link.agent.id, term: String(this.term), agentTerm: String(t) });
        return;
      }
      if (isCatalog(s.link.origin) && (rcode === RCODE.REFUSED || rcode === RCODE.NOTAUTH || rcode === RCODE.NOTIMP)) {
        // A peer that does not follow our catalog (a standard secondary, an agent without the
        // key): it keeps its zones as configured; no point repeating the offer.
        this.log.info({ zone: s.link.origin, agent: s.link.agent.id, rcode }, 'peer does not take the catalog; no more catalog NOTIFYs to it');
        this.clearInflight(s.link);
        s.link.fenced = true;
        return;
      }
      this.log.warn({ zone: s.link.origin, agent: s.link.agent.id, rcode }, 'agent refused NOTIFY');
      s.link.lastError = `answered NOTIFY with ${RCODE_NAMES[rcode] ?? `rcode ${rcode}`}`;
      return;
    }
    let serial: number | undefined;
    try {
      serial = answerSoaSerial(msg, s.link.origin);
    } catch {
      return;
    }
    // Only a dnssync agent answers a NOTIFY with a serial: it takes legs again (a receipt
    // while it was pulling marked it standard).
    if (serial !== undefined) s.link.standard = false;
    // The agent's data term matters only when it is ahead of us: decode only then.
    const ahead = serial !== undefined && serialGt(serial, this.zones.get(s.link.origin)?.snapshot.serial ?? serial);
    this.onAck(s.link, serial, ahead ? answerTerm(msg) : undefined);
  }

  private onTcp(sock: TcpSocket): void {
    this.conns.add(sock);
    sock.setTimeout(30_000, () => sock.destroy());
    sock.on('close', () => this.conns.delete(sock));
    sock.on('error', () => sock.destroy());
    readFrames(sock, (raw) => {
      for (const m of this.answer(raw, true)) {
        if (sock.writable) sock.write(frame(m));
      }
    });
  }

  /** Answers one query: SOA anywhere, AXFR/IXFR over TCP; the messages to send back. */
  private answer(raw: Buffer, tcp: boolean): Buffer[] {
    let h;
    try {
      h = readHeader(raw);
    } catch {
      return [];
    }
    const a = this.auth.check(raw, !this.auth.enabled);
    if (!a.ok) {
      this.log.warn({ error: a.error, reason: a.reason, tcp }, 'request refused: TSIG');
      return a.response ? [a.response] : [];
    }
    if (h.opcode !== OPCODE_QUERY) return this.refuse(raw, RCODE.NOTIMP);
    let p;
    try {
      p = decode(a.message);
    } catch {
      return this.refuse(raw, RCODE.FORMERR);
    }
    const q = p.questions?.[0];
    if (!q || (p.questions?.length ?? 0) !== 1) return this.refuse(raw, RCODE.FORMERR);
    const o = canonicalName(q.name);
    const z = this.zones.get(o);
    if (!z) return this.refuse(raw, this.zonesLoaded ? RCODE.REFUSED : RCODE.SERVFAIL, a);
    const snap = z.snapshot;
    switch (q.type) {
      case 'SOA':
        transfersServed.inc({ type: 'soa' });
        return [this.auth.answer(responseTo(p, OPCODE_QUERY, RCODE.NOERROR, [snap.soa]), a)];
      case 'AXFR':
        if (!tcp) return this.refuse(raw, RCODE.FORMERR, a);
        transfersServed.inc({ type: 'axfr' });
        this.log.debug({ zone: o, serial: snap.serial }, 'AXFR served');
        return this.stream(p.id ?? 0, this.transfer(z, `axfr\u0000${q.name}\u0000${q.class ?? ''}`, () => ({ kind: 'axfr', messages: xfrMessages(0, q, axfrRecords(snap)) })).messages, a);
      case 'IXFR': {
        const clientSerial = soaSerial(sectionRRs(p.authorities).find((rr) => rr.type === 'SOA'));
        if (clientSerial === undefined) return this.refuse(raw, RCODE.FORMERR, a);
        if (!tcp) {
          // RFC 1995 §2: over UDP, a reply that does not fit is just the SOA ("use TCP").
          transfersServed.inc({ type: 'ixfr-uptodate' });
          return [this.auth.answer(responseTo(p, OPCODE_QUERY, RCODE.NOERROR, [snap.soa]), a)];
        }
        const r = this.transfer(z, `ixfr\u0000${clientSerial >>> 0}\u0000${q.name}\u0000${q.class ?? ''}`, () => {
          const x = ixfrRecords(snap, z.journal, clientSerial);
          return { kind: x.kind, messages: xfrMessages(0, q, x.records) };
        });
        transfersServed.inc({ type: r.kind });
        this.log.debug({ zone: o, serial: snap.serial, from: clientSerial, kind: r.kind }, 'IXFR served');
        return this.stream(p.id ?? 0, r.messages, a);
      }
      default:
        return this.refuse(raw, RCODE.REFUSED, a);
    }
  }

  private transfer(z: Zone, key: string, build: () => CachedTransfer): CachedTransfer {
    const hit = z.transfers.get(key);
    if (hit) return hit;
    const t = build();
    if (z.transfers.size >= MAX_CACHED_TRANSFERS) z.transfers.delete(z.transfers.keys().next().value as string);
    z.transfers.set(key, t);
    return t;
  }

  /** The cached messages with this request's ID, signed as one TSIG stream when it was signed. */
  private stream(id: number, cached: readonly Buffer[], a: AuthOk): Buffer[] {
    const msgs = cached.map((m) => {
      const c = Buffer.from(m);
      c.writeUInt16BE(id, 0);
      return c;
    });
    if (!a.key || !a.mac) return msgs;
    const signer = new TsigStreamSigner(a.key, a.mac);
    return msgs.map((m) => signer.sign(m));
  }

  private refuse(raw: Buffer, rcode: number, a?: AuthOk): Buffer[] {
    const r = errorResponse(raw, rcode);
    if (!r) return [];
    return [a ? this.auth.answer(r, a) : r];
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.lagTimer);
    this.window.clear();
    this.heartbeat?.stop();
    for (const a of this.agents.values()) for (const l of a.links.values()) this.clearInflight(l);
    for (const c of this.conns) c.destroy();
    await closePair(this.pair);
  }
}

/**
 * An upper bound on a zone record's size inside a message whose question is the zone's apex:
 * uncompressed, less what compressing its owner to the apex saves (the encoder always finds
 * that suffix; rdata names are counted in full). Sizes datagram-bound diffs far closer than
 * the uncompressed length, which for typical owners is a third larger.
 */
function inZoneLength(origin: string): (rr: RR) => number {
  const saved = origin === '' ? 0 : origin.length;
  return (rr) => encodedLength(rr) - saved;
}

/**
 * Agents with NOTIFYs outstanding at once: as many chains of legs as the receive buffer holds
 * ACKs for (about 1 KiB of kernel memory each, whatever their size), after asking for a
 * larger buffer.
 */
function windowFor(udp: UdpSocket): number {
  try {
    if (udp.getRecvBufferSize() < RECV_BUFFER) udp.setRecvBufferSize(RECV_BUFFER);
  } catch {
    // Capped by net.core.rmem_max or unsupported: the window follows what we have.
  }
  let size = 212_992;
  try {
    size = udp.getRecvBufferSize();
  } catch {
    // keep Linux's default
  }
  return Math.max(32, Math.min(1024, Math.floor(size / (1024 * CHAINED_LEGS))));
}

function sameParams(a: SoaParams, b: SoaParams): boolean {
  const keys: (keyof SoaParams)[] = ['mname', 'rname', 'refresh', 'retry', 'expire', 'minimum', 'ttl'];
  return keys.every((k) => a[k] === b[k]);
}

const RCODE_NAMES: Readonly<Record<number, string>> = { 1: 'FORMERR', 2: 'SERVFAIL', 4: 'NOTIMP', 5: 'REFUSED', 9: 'NOTAUTH' };

/** What went wrong last on a link; a NOTIFY retried without an answer counts while it lasts. */
function lastError(link: Link | undefined): string | undefined {
  const attempts = link?.inflight?.attempt ?? 0;
  if (attempts >= 2 && link?.inflight?.receipt !== true) return `no answer to ${attempts + 1} NOTIFYs for the current change${link?.lastError === undefined ? '' : `; before: ${link.lastError}`}`;
  return link?.lastError;
}
