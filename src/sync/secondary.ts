/**
 * The agent's side of the sync protocol, on the wire. It listens (UDP + TCP) for NOTIFYs; one
 * that carries a diff starting at our serial is applied atomically and answered with the new
 * SOA (that answer is the primary's acknowledgement); any other makes us pull IXFR, falling
 * back to AXFR, from the transfer endpoint the signed NOTIFY names (pull-source.ts: never a
 * packet's source address when it names one), or from the configured primary of a static
 * zone. The zones themselves — pulls, SOA refresh, expire, the catalog, the state file — are
 * kept by SecondaryZones (secondary-zones.ts); the decisions about one zone are pure
 * functions in secondary-zone.ts.
 */
import type { RemoteInfo } from 'node:dgram';
import type { Socket as TcpSocket } from 'node:net';
import type { Packet } from 'dns-packet';
import { canonicalName } from '../dns/rr.js';
import type { TsigKey } from '../dns/tsig.js';
import type { ZoneStore } from '../zone/store.js';
import { logger, type Logger } from '../observability/logger.js';
import { Auth, type AuthOk } from './auth.js';
import type { Endpoint } from './client.js';
import { OPCODE_NOTIFY, OPCODE_QUERY, RCODE, decode, errorResponse, notifyDiff, readHeader, responseTo, sectionRRs, soaSerial } from './codec.js';
import { pullSource } from './pull-source.js';
import { closePair, listenPair, SYNC_TCP_LIMITS, type PortPair } from './listen.js';
import type { ConnLimits } from './conn-limit.js';
import type { PersistedZone, ZonePersistence } from './zone-persist.js';
import { termAnswer } from './fencing.js';
import { notifiesFenced } from './metrics.js';
import { frame, readFrames } from '../dns/framing.js';
import { SecondaryZones } from './secondary-zones.js';
import { followPrimary, planNotify, type SecondaryZoneState, type StaticZone } from './secondary-zone.js';

export type { SecondaryZoneState, StaticZone } from './secondary-zone.js';

export interface SecondaryOptions {
  readonly store: ZoneStore;
  /** The sync listener (UDP + TCP). Port 0 picks one. */
  readonly host: string;
  readonly port: number;
  /** TCP connection caps of that port (SYNC_TCP_LIMITS by default). */
  readonly tcpLimits?: ConnLimits;
  /** With keys, every NOTIFY and transfer must be signed; the first key signs ours. */
  readonly keys?: readonly TsigKey[];
  /** Zones known up front, e.g. as a secondary of a BIND primary. */
  readonly statics?: readonly StaticZone[];
  readonly transferTimeoutMs?: number;
  /** Overrides the SOA refresh interval (tests); default: the zone's SOA refresh. */
  readonly refreshMs?: number;
  /** How long a NOTIFY answer may wait for the pull it triggered (default 1500 ms). */
  readonly notifyAnswerWaitMs?: number;
  /** Keeps zones across restarts: written on change. */
  readonly persist?: ZonePersistence;
  /**
   * Zones read back from `persist` before the DNS sockets opened (already in the store, or
   * put there now): served at once, unconfirmed (not ready) until their primary agrees.
   */
  readonly restored?: readonly PersistedZone[];
  readonly log?: Logger;
}

export class Secondary {
  private readonly conns = new Set<TcpSocket>();
  private readonly log: Logger;
  private readonly zones: SecondaryZones;
  private closed = false;

  private constructor(
    private readonly pair: PortPair,
    private readonly opts: SecondaryOptions,
    private readonly auth: Auth,
  ) {
    this.log = opts.log ?? logger('secondary');
    this.zones = new SecondaryZones({ store: opts.store, auth, log: this.log, transferTimeoutMs: opts.transferTimeoutMs, refreshMs: opts.refreshMs, persist: opts.persist });
  }

  static async start(opts: SecondaryOptions): Promise<Secondary> {
    const auth = new Auth(opts.keys ?? [], 'secondary');
    const ref: { self?: Secondary } = {};
    const pair = await listenPair(opts.host, opts.port, {
      udp: (msg, rinfo) => ref.self?.onUdp(msg, rinfo),
      tcp: (sock) => (ref.self ? ref.self.onTcp(sock) : sock.destroy()),
    }, { role: 'secondary', limits: opts.tcpLimits ?? SYNC_TCP_LIMITS.secondary });
    const self = new Secondary(pair, opts, auth);
    ref.self = self;
    self.log.info({ host: pair.host, port: pair.port, tsig: auth.enabled, statics: (opts.statics ?? []).length }, 'sync listener up');
    for (const s of opts.statics ?? []) {
      const st = self.zones.state(canonicalName(s.origin), true);
      st.primary = s.primary;
      void self.zones.sync(st, 'startup');
    }
    self.zones.restore(opts.restored ?? []);
    return self;
  }

  get address(): Endpoint {
    return { host: this.pair.host, port: this.pair.port };
  }

  /** Undefined when every zone this agent knows of has synced at least once. */
  notReady(): string | undefined {
    return this.zones.notReady();
  }

  /** The leader's zone list (catalog) has been received (or restored) and synced. */
  hasCatalog(): boolean {
    return this.zones.hasCatalog();
  }

  zoneStates(): SecondaryZoneState[] {
    return this.zones.zoneStates();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.zones.close();
    for (const c of this.conns) c.destroy();
    await closePair(this.pair);
  }

  // -------------------------------------------------------------------------------------------
  // Wire

  private onUdp(raw: Buffer, rinfo: RemoteInfo): void {
    const out = this.handle(raw, { host: rinfo.address, port: rinfo.port });
    // A NOTIFY whose diff applied is answered before the next datagram is read; only one
    // that makes us pull waits (for the pull, or its deadline).
    if (out instanceof Promise) {
      void out.then((o) => {
        if (o && !this.closed) this.pair.udp.send(o, rinfo.port, rinfo.address);
      });
    } else if (out && !this.closed) this.pair.udp.send(out, rinfo.port, rinfo.address);
  }

  private onTcp(sock: TcpSocket): void {
    this.conns.add(sock);
    sock.setTimeout(30_000, () => sock.destroy());
    sock.on('close', () => this.conns.delete(sock));
    sock.on('error', () => sock.destroy());
    const from = { host: sock.remoteAddress ?? '', port: sock.remotePort ?? 0 };
    readFrames(sock, (raw) => {
      void Promise.resolve(this.handle(raw, from)).then((out) => {
        if (out && sock.writable) sock.write(frame(out));
      });
    });
  }

  private handle(raw: Buffer, from: Endpoint): Buffer | undefined | Promise<Buffer | undefined> {
    let h;
    try {
      h = readHeader(raw);
    } catch {
      return undefined;
    }
    if (h.qr) return undefined;
    const a = this.auth.check(raw, !this.auth.enabled);
    if (!a.ok) {
      this.log.warn({ from: `${from.host}:${from.port}`, error: a.error, reason: a.reason }, 'sync request refused: TSIG');
      return a.response;
    }
    let p: Packet;
    try {
      p = decode(a.message);
    } catch {
      return errorResponse(raw, RCODE.FORMERR);
    }
    const q = p.questions?.[0];
    if (!q || (p.questions?.length ?? 0) !== 1) return this.auth.answer(errorResponse(raw, RCODE.FORMERR) as Buffer, a);
    const origin = canonicalName(q.name);
    if (h.opcode === OPCODE_QUERY && q.type === 'SOA') {
      const z = this.zones.has(origin) ? this.zones.store.get(origin) : undefined;
      if (!z) return this.auth.answer(errorResponse(raw, RCODE.REFUSED) as Buffer, a);
      return this.auth.answer(responseTo(p, OPCODE_QUERY, RCODE.NOERROR, [z.soa]), a);
    }
    if (h.opcode !== OPCODE_NOTIFY || q.type !== 'SOA') return this.auth.answer(errorResponse(raw, h.opcode === OPCODE_QUERY ? RCODE.REFUSED : RCODE.NOTIMP) as Buffer, a);
    return this.onNotify(raw, p, origin, from, a);
  }

  private onNotify(raw: Buffer, p: Packet, origin: string, from: Endpoint, a: AuthOk): Buffer | undefined | Promise<Buffer | undefined> {
    const signed = a.key !== undefined;
    const source = pullSource(p, from);
    if (source instanceof Error) {
      this.log.warn({ zone: origin, from: `${from.host}:${from.port}`, err: source.message }, 'NOTIFY with malformed leader info refused');
      return this.auth.answer(errorResponse(raw, RCODE.FORMERR) as Buffer, a);
    }
    const term = source.info?.term ?? 0n;
    const zones = this.zones;
    let st = zones.get(origin);
    if (!st?.isStatic && term < zones.highestTerm) {
      // Fencing: a leader that does not know it was deposed. Our term tells it so.
      this.log.warn({ zone: origin, from: `${from.host}:${from.port}`, term: String(term), highestTerm: String(zones.highestTerm) }, 'NOTIFY from an older leadership term refused');
      notifiesFenced.inc();
      return this.auth.answer(termAnswer(p, OPCODE_NOTIFY, RCODE.REFUSED, [], zones.highestTerm), a);
    }
    if (!st) {
      // A zone we have never seen: only a primary holding our key may introduce it.
      if (!signed || (zones.store.get(origin) !== undefined)) {
        this.log.warn({ zone: origin, from: `${from.host}:${from.port}`, signed }, 'NOTIFY for a zone not synced here refused');
        return this.auth.answer(errorResponse(raw, RCODE.REFUSED) as Buffer, a);
      }
      st = zones.state(origin, false);
    }
    if (!signed && st.primary && st.primary.host !== from.host) {
      this.log.warn({ zone: origin, from: from.host }, 'unsigned NOTIFY from a host that is not the primary; refused');
      return errorResponse(raw, RCODE.REFUSED);
    }
    if (!st.isStatic) {
      followPrimary(st, source.endpoint, term, a.timeSigned ?? 0);
      zones.raiseTerm(term, origin);
    }

    const announced = soaSerial(sectionRRs(p.answers).find((rr) => rr.type === 'SOA' && rr.name === origin));
    const diff = notifyDiff(origin, p);
    const current = zones.store.get(origin);
    const olderData = !st.isStatic && current !== undefined && term > st.dataTerm;
    const plan = planNotify(current, diff, announced, olderData);
    let needPull = plan === 'pull';
    if (plan === 'apply' && current && diff) needPull = !zones.applyNotifyDiff(st, current, diff, term);
    // The primary announcing the very serial we hold confirms it (SOA expire, readiness).
    if (!needPull && current && announced === current.serial && zones.store.get(origin) === current) zones.synced(st, 'notify');
    if (!needPull) return this.notifyAnswer(p, origin, a, source.info !== undefined);
    const pulled = zones.sync(st, diff ? 'notify (diff base differs)' : 'notify', announced);
    const wait = this.opts.notifyAnswerWaitMs ?? 1500;
    let t: NodeJS.Timeout | undefined;
    return Promise.race([pulled, new Promise<void>((r) => (t = setTimeout(r, wait)))]).then(() => {
      if (t) clearTimeout(t);
      return this.notifyAnswer(p, origin, a, source.info !== undefined);
    });
  }

  /** The NOTIFY answer: the SOA we now serve, which is the primary's acknowledgement. */
  private notifyAnswer(p: Packet, origin: string, a: AuthOk, info: boolean): Buffer {
    const now = this.zones.store.get(origin);
    const st = this.zones.get(origin);
    // To a dnssync primary (its NOTIFY had leader info): also the term our data came from.
    const body = info && st ? termAnswer(p, OPCODE_NOTIFY, RCODE.NOERROR, now ? [now.soa] : [], st.dataTerm) : responseTo(p, OPCODE_NOTIFY, RCODE.NOERROR, now ? [now.soa] : []);
    return this.auth.answer(body, a);
  }
}
