/**
 * The primary: holds each zone with its serial and journal, serves SOA/IXFR/AXFR on one
 * port (UDP + TCP, transfer-server.ts), and pushes every change to every agent as a NOTIFY
 * carrying the diff, sent from that same port (delivery.ts). It knows nothing of Kubernetes.
 *
 * The parts, one job each: serial-policy.ts (SOA, next serial, steps of a batch),
 * journal.ts (the diffs), notify-builder.ts (the NOTIFY per base serial, signed once),
 * transfer-server.ts (answers), delivery.ts (per-agent NOTIFY/ACK/retry, the send window).
 */
import { EventEmitter } from 'node:events';
import type { RemoteInfo, Socket as UdpSocket } from 'node:dgram';
import { canonicalName, type RR } from '../dns/rr.js';
import { canonicalRR } from '../dns/rdata.js';
import { applyDiff, diffRecords } from '../zone/diff.js';
import { buildSnapshot } from '../zone/snapshot.js';
import type { ZoneDiff, ZoneSnapshot } from '../zone/types.js';
import { logger, type Logger } from '../observability/logger.js';
import { Auth } from './auth.js';
import type { Endpoint } from './client.js';
import { NOTIFY_MAX_DATAGRAM, readHeader } from './codec.js';
import { Journal } from './journal.js';
import { advertisedInfo } from './advertise.js';
import { CATALOG_ORIGIN, catalogRecords, isCatalog } from './catalog.js';
import { closePair, listenPair, SYNC_TCP_LIMITS, type PortPair } from './listen.js';
import { CHAINED_LEGS, Delivery } from './delivery.js';
import { HEARTBEAT_DEFAULTS } from './heartbeat.js';
import { zoneSerial } from './metrics.js';
import { NotifyBuilder } from './notify-builder.js';
import type { AgentEndpoint, AgentState, PrimaryEvents, PrimaryOptions, SoaParams } from './primary-types.js';
import { CATALOG_SOA, inZoneLength, makeSoa, planSteps, sameParams, SerialFloors, serialAfter } from './serial-policy.js';
import type { ServedZone } from './served-zone.js';
import { TransferServer } from './transfer-server.js';

export type { AgentEndpoint, AgentState, AgentZoneState, PrimaryEvents, PrimaryOptions, RetryPolicy, SoaParams } from './primary-types.js';

const WILDCARD = new Set(['0.0.0.0', '::', '']);

/** Receive buffer the primary asks for: ACKs of a whole window must fit (the kernel may cap it). */
const RECV_BUFFER = 4 << 20;

export class ZoneNotFoundError extends Error {
  override readonly name = 'ZoneNotFoundError';
}

export class Primary extends EventEmitter<PrimaryEvents> {
  private readonly zones = new Map<string, ServedZone>();
  private readonly floors = new SerialFloors();
  private readonly auth: Auth;
  private readonly log: Logger;
  private readonly clock: () => number;
  private readonly builder: NotifyBuilder;
  private readonly server: TransferServer;
  private readonly delivery: Delivery;
  private closed = false;
  private loaded = false;

  private constructor(
    private readonly pair: PortPair,
    private readonly opts: PrimaryOptions,
    auth: Auth,
  ) {
    super();
    this.auth = auth;
    this.log = opts.log ?? logger('primary');
    this.clock = opts.clock ?? (() => Math.floor(Date.now() / 1000));
    const term = opts.term ?? 0n;
    const info = advertisedInfo(pair, opts.advertise, term);
    this.builder = new NotifyBuilder(auth, info, opts.maxNotifySize ?? NOTIFY_MAX_DATAGRAM);
    const zones = this.zones;
    const loaded = (): boolean => this.loaded;
    this.server = new TransferServer({ zone: (o) => zones.get(o), get zonesLoaded() { return loaded(); } }, auth, this.log);
    this.delivery = new Delivery(
      {
        zones: this.zones,
        resumePast: (o, serial) => {
          const z = this.zones.get(o);
          this.floors.raise(o, serial);
          if (z) this.commit(o, z, [], [], z.params, serial);
        },
        raiseSerialFloor: (o, serial) => this.floors.raise(o, serial),
      },
      {
        ack: (agent, o, serial) => this.emit('ack', agent, o, serial),
        deposed: (agent, o) => this.emit('deposed', agent, o),
        drift: (agent, o, serial) => this.emit('drift', agent, o, serial),
      },
      {
        udp: pair.udp,
        auth,
        builder: this.builder,
        info,
        term,
        log: this.log,
        retryInitialMs: opts.retry?.initialMs ?? 200,
        retryMaxMs: opts.retry?.maxMs ?? 5000,
        window: { maxInFlight: opts.window?.maxInFlight ?? windowFor(pair.udp), maxPulls: opts.window?.maxPulls },
        heartbeat: opts.heartbeat === false ? false : { ...HEARTBEAT_DEFAULTS, ...opts.heartbeat },
        catalog: opts.catalog === true,
        streams: opts.pushStreams !== true ? undefined : { localAddress: WILDCARD.has(pair.host) ? undefined : pair.host },
      },
    );
  }

  static async start(opts: PrimaryOptions): Promise<Primary> {
    const auth = new Auth(opts.keys ?? [], 'primary');
    const ref: { self?: Primary } = {};
    const pair = await listenPair(opts.host, opts.port, {
      udp: (msg, rinfo) => ref.self?.onUdp(msg, rinfo),
      tcp: (sock) => (ref.self ? ref.self.server.onTcp(sock) : sock.destroy()),
    }, { role: 'primary', limits: opts.tcpLimits ?? SYNC_TCP_LIMITS.primary });
    const self = new Primary(pair, opts, auth);
    ref.self = self;
    const adv = advertisedInfo(pair, opts.advertise, opts.term ?? 0n)?.transfer;
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
    this.floors.raise(canonicalName(origin), serial);
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
      const serial = this.floors.first(o, this.clock());
      const snapshot = buildSnapshot(o, [makeSoa(o, serial, params), ...list]);
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
    const before = cur.snapshot.serial;
    let serial = before;
    // With push streams, agents hear of the batch once, at its last step: an agent at the
    // batch's base then gets all of it on its stream rather than the first step, then the rest.
    const once = this.opts.pushStreams === true;
    for (const step of planSteps(deleted, added, this.builder.stepRoom(cur), inZoneLength(o))) serial = this.commit(o, cur, step.deleted, step.added, params ?? cur.params, undefined, !once);
    if (once && serial !== before) this.delivery.published(o);
    return serial;
  }

  /**
   * Declares the set of zones complete (after the first setZone calls of a start). Until
   * then a query for an unknown zone gets SERVFAIL ("ask again"), not REFUSED, which an
   * agent takes to mean the zone was removed.
   */
  markZonesLoaded(): void {
    this.loaded = true;
    this.publishCatalog();
  }

  /** The catalog as the zones stand now (only once their set is complete). */
  private publishCatalog(): void {
    if (!this.opts.catalog || !this.loaded || this.closed) return;
    this.setZone(CATALOG_ORIGIN, catalogRecords([...this.zones.keys()].filter((o) => !isCatalog(o))), CATALOG_SOA);
  }

  removeZone(origin: string): void {
    const o = canonicalName(origin);
    if (!this.zones.delete(o)) return;
    this.delivery.removed(o);
    zoneSerial.remove({ zone: o, role: 'primary' });
    this.log.info({ zone: o }, 'zone removed');
    this.publishCatalog();
  }

  /** `past`: a serial seen elsewhere that the new one must exceed (forces a new serial). */
  private commit(o: string, cur: ServedZone, deleted: readonly RR[], added: readonly RR[], params: SoaParams, past?: number, push = true): number {
    const soaChanged = !sameParams(cur.params, params);
    if (deleted.length === 0 && added.length === 0 && !soaChanged && past === undefined) return cur.snapshot.serial;
    const serial = serialAfter(cur.snapshot.serial, this.clock(), past);
    const diff: ZoneDiff = { origin: o, fromSerial: cur.snapshot.serial, toSerial: serial, soa: makeSoa(o, serial, params), deleted, added };
    cur.snapshot = applyDiff(cur.snapshot, diff);
    cur.notifies.clear();
    cur.transfers.clear();
    cur.params = params;
    cur.journal.append(diff);
    this.published(o, serial, push);
    return serial;
  }

  private published(o: string, serial: number, push = true): void {
    zoneSerial.set({ zone: o, role: 'primary' }, serial);
    // Info, like BIND's per-transfer lines: one line per published serial (changes are
    // coalesced first), so `kubectl logs` shows every change at the default level.
    this.log.info({ zone: o, serial }, 'zone has a new serial');
    this.emit('serial', o, serial);
    if (push) this.delivery.published(o);
  }

  // -------------------------------------------------------------------------------------------
  // Agents

  /** The full set of agents to push to; new ones are notified at once, gone ones forgotten. */
  setAgents(list: readonly AgentEndpoint[]): void {
    this.delivery.setAgents(list);
  }

  /** The send window: agents with a NOTIFY outstanding, of those pulling, and waiting for a slot. */
  get fanout(): { inFlight: number; pulling: number; queued: number; maxInFlight: number; maxPulls: number; retryMs: number; streams: number } {
    return this.delivery.fanout;
  }

  agentStates(): AgentState[] {
    return this.delivery.agentStates();
  }

  /**
   * Asks every agent for its serial of each origin (SOA over UDP to its sync port) and raises
   * the serial floors to the newest answer: after a failover, the first push is then newer
   * than anything an agent holds. Agents that do not answer in time are skipped.
   */
  probeSerials(origins: readonly string[], timeoutMs = 1000): Promise<Record<string, number>> {
    const all = this.opts.catalog && origins.length > 0 ? [...origins, CATALOG_ORIGIN] : origins;
    return this.delivery.probeSerials(all.map((o) => canonicalName(o)), timeoutMs);
  }

  private onUdp(raw: Buffer, rinfo: RemoteInfo): void {
    let h;
    try {
      h = readHeader(raw);
    } catch {
      return;
    }
    if (h.qr) {
      this.delivery.onResponse(raw, h.id, h.opcode, h.rcode, rinfo.address);
      return;
    }
    for (const m of this.server.answer(raw, false)) this.pair.udp.send(m, rinfo.port, rinfo.address);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.delivery.close();
    this.server.close();
    await closePair(this.pair);
  }
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
