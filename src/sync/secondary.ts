/**
 * The agent's side of the sync protocol. It listens (UDP + TCP) for NOTIFYs; one that
 * carries a diff starting at our serial is applied atomically and answered with the new SOA
 * (that answer is the primary's acknowledgement); any other makes us pull IXFR, falling
 * back to AXFR, from the transfer endpoint the signed NOTIFY names (pull-source.ts: never a
 * packet's source address when it names one), or from the configured primary of a static
 * zone. Every zone is also checked every SOA `refresh` as a safety net. It writes only the
 * zones it manages into the shared ZoneStore, which the DNS server reads.
 */
import type { RemoteInfo } from 'node:dgram';
import type { Socket as TcpSocket } from 'node:net';
import type { Packet } from 'dns-packet';
import { canonicalName, type RR } from '../dns/rr.js';
import type { SoaRdata } from '../dns/rdata.js';
import type { TsigKey } from '../dns/tsig.js';
import { applyDiff } from '../zone/diff.js';
import { DiffBaseError, DiffConflictError, ZoneError } from '../zone/errors.js';
import { buildSnapshot } from '../zone/snapshot.js';
import { ZoneStore } from '../zone/store.js';
import type { ZoneDiff, ZoneSnapshot } from '../zone/types.js';
import { logger, type Logger } from '../observability/logger.js';
import { Auth, type AuthOk } from './auth.js';
import { PeerRcodeError, pullZone, querySoa, type Endpoint } from './client.js';
import { OPCODE_NOTIFY, OPCODE_QUERY, RCODE, decode, errorResponse, notifyDiff, readHeader, responseTo, sectionRRs, soaSerial } from './codec.js';
import { pullSource } from './pull-source.js';
import { closePair, listenPair, SYNC_TCP_LIMITS, type PortPair } from './listen.js';
import type { ConnLimits } from './conn-limit.js';
import type { PersistedZone, ZoneMeta, ZonePersistence } from './zone-persist.js';
import { CatalogError, catalogMembers, isCatalog } from './catalog.js';
import { termAnswer } from './fencing.js';
import { applySeconds, notifiesFenced, pullFailures, updatesApplied, zoneExpired, zoneSerial, zonesDropped } from './metrics.js';
import { serialGt } from './serials.js';
import { frame, readFrames } from './tcp.js';
import { XfrFormatError } from './xfr.js';

export interface StaticZone {
  readonly origin: string;
  /** The primary to pull from and to accept unsigned NOTIFYs from (when no key is set). */
  readonly primary: Endpoint;
}

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

export interface SecondaryZoneState {
  readonly origin: string;
  readonly primary: Endpoint | undefined;
  readonly serial: number | undefined;
  readonly synced: boolean;
  readonly static: boolean;
  readonly lastError: string | undefined;
}

interface ZoneState {
  readonly origin: string;
  primary: Endpoint | undefined;
  readonly isStatic: boolean;
  synced: boolean;
  syncing: Promise<void> | undefined;
  again: boolean;
  timer: NodeJS.Timeout | undefined;
  lastError: string | undefined;
  /** Signing time of the newest NOTIFY that set `primary` (a replay is never newer). */
  primarySince: number;
  /** Serial announced by the NOTIFY that started the running pull, which will fetch at least it. */
  covers: number | undefined;
  /** The primary's term when that pull started: a serial covers nothing across terms. */
  coversTerm: bigint;
  /** Leadership term of `primary` (0: none, a standard primary). */
  primaryTerm: bigint;
  /** Term of the leader the data we hold came from (see fencing.ts). */
  dataTerm: bigint;
  /** When the zone was last confirmed with its primary (ms since the epoch). */
  confirmedAt: number;
  /** Fires when confirmedAt + SOA expire passes (see expiry). */
  expireTimer: NodeJS.Timeout | undefined;
  /** Past its SOA expire: held, answered SERVFAIL until confirmed again. */
  expired: boolean;
  /** Serial and primary the state file was last written with: a refresh that only confirms
   * them does not rewrite the zone (a whole-zone encode and a synchronous write, on the thread
   * that answers queries when there are no workers). */
  saved: string | undefined;
}

export class Secondary {
  private readonly zones = new Map<string, ZoneState>();
  private readonly conns = new Set<TcpSocket>();
  private readonly auth: Auth;
  private readonly log: Logger;
  /** The agent's store, but for the catalog, which is kept apart: it is never answered. */
  private readonly store: Pick<ZoneStore, 'get' | 'set' | 'delete' | 'setExpired'>;
  private readonly catalogStore = new ZoneStore();
  private closed = false;
  /**
   * The highest leadership term accepted from any NOTIFY: pushes from older terms are refused
   * (fencing.ts). Agent-wide, so a deposed leader cannot bring back a zone its successor
   * removed either. Kept in the state directory: a restarted agent still refuses a deposed
   * leader that reaches it before the current one does.
   */
  private highestTerm: bigint;

  private constructor(
    private readonly pair: PortPair,
    private readonly opts: SecondaryOptions,
    auth: Auth,
  ) {
    this.auth = auth;
    const pick = (origin: string): ZoneStore => (isCatalog(origin) ? this.catalogStore : opts.store);
    this.store = {
      get: (o) => pick(o).get(o),
      set: (snap) => pick(snap.origin).set(snap),
      delete: (o) => pick(o).delete(o),
      setExpired: (o, e) => pick(o).setExpired(o, e),
    };
    this.highestTerm = opts.persist?.loadMeta().term ?? 0n;
    this.log = opts.log ?? logger('secondary');
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
      const st = self.state(canonicalName(s.origin), true);
      st.primary = s.primary;
      void self.sync(st, 'startup');
    }
    self.restore();
    return self;
  }

  /**
   * Zones kept from before a restart are served at once but count as unconfirmed (not
   * ready) until an SOA check with their primary agrees, which starts now.
   */
  private restore(): void {
    for (const { snapshot, meta } of this.opts.restored ?? []) {
      const held = this.store.get(snapshot.origin);
      if (this.zones.has(snapshot.origin) || (held !== undefined && held !== snapshot)) continue; // a zone file or static zone wins
      this.store.set(snapshot);
      const st = this.state(snapshot.origin, false);
      st.primary = meta.primary;
      st.primarySince = meta.primarySince;
      st.primaryTerm = meta.primaryTerm ?? 0n;
      st.dataTerm = meta.dataTerm ?? 0n;
      // A file from before confirmedAt was kept says nothing: count from now.
      st.confirmedAt = meta.confirmedAt > 0 ? meta.confirmedAt : Date.now();
      this.armExpiry(st);
      this.log.info({ zone: snapshot.origin, serial: snapshot.serial, primary: meta.primary && `${meta.primary.host}:${meta.primary.port}` }, 'zone restored from the state directory; serving it, confirming with the primary');
      void this.refresh(st);
    }
  }

  get address(): Endpoint {
    return { host: this.pair.host, port: this.pair.port };
  }

  /** Undefined when every zone this agent knows of has synced at least once. */
  notReady(): string | undefined {
    const waiting = [...this.zones.values()].filter((z) => !z.synced || z.expired).map((z) => (z.origin || '.') + (z.expired ? ' (expired)' : ''));
    return waiting.length === 0 ? undefined : `zones not synced yet: ${waiting.join(', ')}`;
  }

  zoneStates(): SecondaryZoneState[] {
    return [...this.zones.values()].map((z) => ({ origin: z.origin, primary: z.primary, serial: this.store.get(z.origin)?.serial, synced: z.synced, static: z.isStatic, lastError: z.lastError }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const z of this.zones.values()) {
      if (z.timer) clearTimeout(z.timer);
      if (z.expireTimer) clearTimeout(z.expireTimer);
    }
    for (const c of this.conns) c.destroy();
    this.opts.persist?.flush();
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
      const z = this.zones.has(origin) ? this.store.get(origin) : undefined;
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
    let st = this.zones.get(origin);
    if (!st?.isStatic && term < this.highestTerm) {
      // Fencing: a leader that does not know it was deposed. Our term tells it so.
      this.log.warn({ zone: origin, from: `${from.host}:${from.port}`, term: String(term), highestTerm: String(this.highestTerm) }, 'NOTIFY from an older leadership term refused');
      notifiesFenced.inc();
      return this.auth.answer(termAnswer(p, OPCODE_NOTIFY, RCODE.REFUSED, [], this.highestTerm), a);
    }
    if (!st) {
      // A zone we have never seen: only a primary holding our key may introduce it.
      if (!signed || (this.store.get(origin) !== undefined)) {
        this.log.warn({ zone: origin, from: `${from.host}:${from.port}`, signed }, 'NOTIFY for a zone not synced here refused');
        return this.auth.answer(errorResponse(raw, RCODE.REFUSED) as Buffer, a);
      }
      st = this.state(origin, false);
    }
    if (!signed && st.primary && st.primary.host !== from.host) {
      this.log.warn({ zone: origin, from: from.host }, 'unsigned NOTIFY from a host that is not the primary; refused');
      return errorResponse(raw, RCODE.REFUSED);
    }
    // A dynamic zone follows its primary (a controller failover moves it), but only to the
    // endpoint of a NOTIFY signed later than any before: a replayed NOTIFY, valid within the
    // fudge window, cannot point us elsewhere.
    // A newer term always moves it: that is a new leader, wherever it serves from.
    if (!st.isStatic) {
      const to = source.endpoint;
      const t = a.timeSigned ?? 0;
      const moved = st.primary === undefined || st.primary.host !== to.host || st.primary.port !== to.port;
      if (st.primary === undefined || term > st.primaryTerm || (moved && t > st.primarySince)) {
        st.primary = to;
        st.primaryTerm = term;
      }
      if (t > st.primarySince) st.primarySince = t;
      if (term > this.highestTerm) {
        this.log.info({ zone: origin, term: String(term), previous: String(this.highestTerm) }, 'new leadership term');
        this.highestTerm = term;
        this.opts.persist?.saveTerm(term);
      }
    }

    const announced = soaSerial(sectionRRs(p.answers).find((rr) => rr.type === 'SOA' && rr.name === origin));
    const diff = notifyDiff(origin, p);
    const current = this.store.get(origin);
    let needPull = true;
    // Our data came from an older leadership term than this NOTIFY: our serial may name other
    // data at this leader (a deposed leader, paused, woke and pushed its S+1 after the new one
    // probed us at S, and the new leader's first serial is S+1 too). Neither a diff from our
    // serial nor "the same serial" then says we hold its data: we transfer the zone whole.
    const olderData = !st.isStatic && current !== undefined && term > st.dataTerm;
    if (diff && current && diff.fromSerial === current.serial && !olderData) {
      needPull = !this.applyNotifyDiff(st, current, diff, term);
    } else if (olderData && announced === current?.serial) {
      needPull = true;
    } else if (current && announced !== undefined && !serialGt(announced, current.serial)) {
      // Already there (a retransmission, or a diff we applied meanwhile) — or ahead with an
      // older leader's data: the answer then reports that term, and the new leader resumes
      // past our serial (fencing.ts); a pull now would only be answered with the same serial.
      needPull = false;
    } else if (diff && current && serialGt(current.serial, diff.fromSerial)) {
      // A diff from a base we are past: the primary has not yet heard our ACK (its retry, or
      // the next change, crossed it). Our answer tells it where we are and it sends the rest
      // from there; a pull would be a TCP transfer for what one more datagram carries.
      needPull = false;
    }
    // The primary announcing the very serial we hold confirms it (SOA expire, readiness).
    if (!needPull && current && announced === current.serial && this.store.get(origin) === current) this.synced(st, 'notify');
    if (!needPull) return this.notifyAnswer(p, origin, a, source.info !== undefined);
    const pulled = this.sync(st, diff ? 'notify (diff base differs)' : 'notify', announced);
    const wait = this.opts.notifyAnswerWaitMs ?? 1500;
    let t: NodeJS.Timeout | undefined;
    return Promise.race([pulled, new Promise<void>((r) => (t = setTimeout(r, wait)))]).then(() => {
      if (t) clearTimeout(t);
      return this.notifyAnswer(p, origin, a, source.info !== undefined);
    });
  }

  /** The NOTIFY answer: the SOA we now serve, which is the primary's acknowledgement. */
  private notifyAnswer(p: Packet, origin: string, a: AuthOk, info: boolean): Buffer {
    const now = this.store.get(origin);
    const st = this.zones.get(origin);
    // To a dnssync primary (its NOTIFY had leader info): also the term our data came from.
    const body = info && st ? termAnswer(p, OPCODE_NOTIFY, RCODE.NOERROR, now ? [now.soa] : [], st.dataTerm) : responseTo(p, OPCODE_NOTIFY, RCODE.NOERROR, now ? [now.soa] : []);
    return this.auth.answer(body, a);
  }

  private applyNotifyDiff(st: ZoneState, current: ZoneSnapshot, diff: ZoneDiff, term: bigint): boolean {
    const t0 = process.hrtime.bigint();
    try {
      this.store.set(applyDiff(current, diff));
    } catch (err) {
      if (err instanceof DiffBaseError || err instanceof DiffConflictError || err instanceof ZoneError) {
        this.log.warn({ zone: st.origin, serial: current.serial, err: err.message }, 'NOTIFY diff does not apply; pulling instead');
        return false;
      }
      throw err;
    }
    applySeconds.observe(Number(process.hrtime.bigint() - t0) / 1e9);
    st.dataTerm = term;
    updatesApplied.inc({ how: 'notify' });
    this.synced(st, 'notify');
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // Pulling

  private state(origin: string, isStatic: boolean): ZoneState {
    let st = this.zones.get(origin);
    if (!st) {
      st = { origin, primary: undefined, isStatic, synced: false, syncing: undefined, again: false, timer: undefined, lastError: undefined, primarySince: -1, covers: undefined, coversTerm: 0n, primaryTerm: 0n, dataTerm: 0n, confirmedAt: 0, expireTimer: undefined, expired: false, saved: undefined };
      this.zones.set(origin, st);
    }
    return st;
  }

  /**
   * Brings the zone up to date with its primary; concurrent calls share one run. A call for
   * a serial the running pull already covers (the primary retransmitting the NOTIFY that
   * started it while we transfer) does not queue another pull.
   */
  private sync(st: ZoneState, why: string, announced?: number): Promise<void> {
    if (st.syncing) {
      // A newer leader's NOTIFY is never covered by a pull from the older one (which may be
      // gone), even for the same serial: its serials name its own data.
      if (announced === undefined || st.covers === undefined || serialGt(announced, st.covers) || st.primaryTerm !== st.coversTerm) st.again = true;
      return st.syncing;
    }
    st.covers = announced;
    st.coversTerm = st.primaryTerm;
    st.syncing = (async () => {
      do {
        st.again = false;
        await this.pullOnce(st, why);
        st.covers = undefined;
      } while (st.again && !this.closed);
    })().finally(() => {
      st.syncing = undefined;
    });
    return st.syncing;
  }

  private async pullOnce(st: ZoneState, why: string): Promise<void> {
    const primary = st.primary;
    if (!primary || this.closed) return;
    const timeout = this.opts.transferTimeoutMs ?? 10_000;
    const current = this.store.get(st.origin);
    const term = st.primaryTerm;
    try {
      // IXFR only from data of this leader's term: from an older term's data our serial may
      // name other contents at this leader (see onNotify), and its diffs would not apply to ours.
      if (current && st.dataTerm === term) {
        const done = await this.tryIxfr(st, primary, current, timeout, term);
        if (done) return;
      }
      const r = await pullZone(primary, st.origin, undefined, this.auth, timeout);
      if (r.kind !== 'full') throw new XfrFormatError('AXFR did not return a zone');
      if (this.supersededDuring(st, term)) return;
      this.installFull(st, r.records, 'axfr', term);
    } catch (err) {
      this.pullFailed(st, err, why);
    }
  }

  /**
   * A transfer from a leader whose term has since been superseded (a newer leader's NOTIFY
   * arrived while it ran) is not installed: the pull runs again, from the new leader.
   */
  private supersededDuring(st: ZoneState, term: bigint): boolean {
    if (st.primaryTerm === term) return false;
    this.log.info({ zone: st.origin, term: String(term), now: String(st.primaryTerm) }, 'transfer from an older leadership term dropped');
    st.again = true;
    return true;
  }

  /** True when IXFR settled the matter; false when AXFR must follow. */
  private async tryIxfr(st: ZoneState, primary: Endpoint, current: ZoneSnapshot, timeout: number, term: bigint): Promise<boolean> {
    let r;
    try {
      r = await pullZone(primary, st.origin, current.soa, this.auth, timeout);
    } catch (err) {
      if (err instanceof PeerRcodeError && (err.rcode === RCODE.NOTIMP || err.rcode === RCODE.FORMERR)) return false;
      if (err instanceof XfrFormatError) return false;
      throw err;
    }
    if (this.supersededDuring(st, term)) return true;
    if (r.kind === 'uptodate') {
      // Not a reason to take `term` as our data's: a serial ahead of the leader's (an older
      // leader's later push) is also "up to date" to it.
      this.synced(st, 'ixfr');
      return true;
    }
    if (r.kind === 'full') {
      this.installFull(st, r.records, 'ixfr', term);
      return true;
    }
    let snap = this.store.get(st.origin) ?? current;
    const last = r.diffs[r.diffs.length - 1];
    if (last && !serialGt(last.toSerial, snap.serial)) {
      this.synced(st, 'ixfr');
      return true; // a NOTIFY diff got us there while we transferred
    }
    try {
      for (const d of r.diffs) snap = applyDiff(snap, d);
    } catch (err) {
      if (err instanceof DiffBaseError) {
        st.again = true; // the zone moved while we transferred; ask again from where it is
        return true;
      }
      if (err instanceof DiffConflictError || err instanceof ZoneError) {
        this.log.warn({ zone: st.origin, serial: current.serial, err: err.message }, 'IXFR does not apply; falling back to AXFR');
        return false;
      }
      throw err;
    }
    this.store.set(snap);
    st.dataTerm = term;
    updatesApplied.inc({ how: 'ixfr' });
    this.synced(st, 'ixfr');
    return true;
  }

  private installFull(st: ZoneState, records: RR[], how: 'axfr' | 'ixfr', term: bigint): void {
    const snap = buildSnapshot(st.origin, records);
    const cur = this.store.get(st.origin);
    if (!cur || serialGt(snap.serial, cur.serial) || snap.serial === cur.serial) {
      this.store.set(snap);
      st.dataTerm = term;
    }
    updatesApplied.inc({ how: how === 'ixfr' ? 'ixfr' : 'axfr' });
    this.synced(st, how);
  }

  private pullFailed(st: ZoneState, err: unknown, why: string): void {
    const msg = err instanceof Error ? err.message : String(err);
    st.lastError = msg;
    if (err instanceof PeerRcodeError && err.rcode === RCODE.REFUSED && !st.isStatic) {
      // The primary no longer serves this zone: it was removed.
      this.log.info({ zone: st.origin }, 'primary refuses the zone: removing it');
      this.removeZone(st);
      return;
    }
    pullFailures.inc({ reason: err instanceof PeerRcodeError ? `rcode_${err.rcode}` : err instanceof Error ? err.name : 'error' });
    this.log.warn({ zone: st.origin, primary: st.primary && `${st.primary.host}:${st.primary.port}`, why, err: msg }, 'zone transfer failed; will retry');
    this.schedule(st, this.retryMs(st));
  }

  private removeZone(st: ZoneState): void {
    if (st.timer) clearTimeout(st.timer);
    if (st.expireTimer) clearTimeout(st.expireTimer);
    zoneExpired.remove({ zone: st.origin });
    this.zones.delete(st.origin);
    this.store.delete(st.origin);
    this.opts.persist?.remove(st.origin);
    zoneSerial.remove({ zone: st.origin, role: 'secondary' });
  }

  private synced(st: ZoneState, how: string): void {
    const z = this.store.get(st.origin);
    if (!st.synced) {
      this.log.info({ zone: st.origin, serial: z?.serial, how }, 'zone synced');
      if (!st.expired) zoneExpired.set({ zone: st.origin }, 0);
    } else this.log.info({ zone: st.origin, serial: z?.serial, how }, 'zone updated');
    st.synced = true;
    st.lastError = undefined;
    st.confirmedAt = Date.now();
    if (!st.isStatic) this.opts.persist?.confirmed(st.origin, st.confirmedAt);
    if (st.expired) {
      st.expired = false;
      this.store.setExpired(st.origin, false);
      zoneExpired.set({ zone: st.origin }, 0);
      this.log.warn({ zone: st.origin, serial: z?.serial, how }, 'zone recovered: confirmed with its primary again; serving it');
    }
    this.armExpiry(st);
    if (isCatalog(st.origin)) this.followCatalog(st);
    if (z) zoneSerial.set({ zone: st.origin, role: 'secondary' }, z.serial);
    const saved = `${z?.serial}@${st.primary ? `${st.primary.host}:${st.primary.port}` : ''}#${st.primaryTerm}/${st.dataTerm}`;
    if (!st.isStatic && saved !== st.saved) {
      st.saved = saved;
      this.opts.persist?.save(st.origin, () => this.persisted(st));
    }
    this.schedule(st, this.refreshMs(st));
  }

  private persisted(st: ZoneState): { snap: ZoneSnapshot; meta: ZoneMeta } | undefined {
    const snap = this.zones.get(st.origin) === st ? this.store.get(st.origin) : undefined;
    return snap && { snap, meta: { primary: st.primary, primarySince: st.primarySince, confirmedAt: st.confirmedAt, primaryTerm: st.primaryTerm, dataTerm: st.dataTerm } };
  }

  /**
   * The leader's catalog (catalog.ts) was installed or confirmed: add the zones it lists that
   * we lack, drop those it does not list. Only a signed catalog from the newest leadership
   * term we know is acted on: an older leader's list may lack zones its successor added.
   * Static zones (--secondary) and zone files are not the leader's and stay.
   */
  private followCatalog(cat: ZoneState): void {
    const snap = this.store.get(cat.origin);
    if (!snap) return;
    if (!this.auth.enabled) {
      this.log.warn({ zone: cat.origin, serial: snap.serial }, 'catalog not acted on: without a TSIG key nothing proves it is the leader\'s');
      return;
    }
    if (cat.dataTerm !== this.highestTerm) {
      this.log.info({ zone: cat.origin, serial: snap.serial, term: String(cat.dataTerm), highestTerm: String(this.highestTerm) }, 'catalog from an older leadership term: not acted on');
      return;
    }
    let members: Set<string>;
    try {
      members = catalogMembers(snap);
    } catch (err) {
      if (!(err instanceof CatalogError)) throw err;
      this.log.warn({ zone: cat.origin, serial: snap.serial, err: err.message }, 'catalog is malformed: not acted on');
      return;
    }
    for (const st of [...this.zones.values()]) {
      if (st === cat || st.isStatic || members.has(st.origin)) continue;
      this.log.info({ zone: st.origin, serial: this.store.get(st.origin)?.serial, catalogSerial: snap.serial }, "zone not in the leader's catalog: removing it");
      zonesDropped.inc();
      this.removeZone(st);
    }
    for (const origin of members) {
      // A zone file for the same origin wins, as it does over a NOTIFY.
      if (this.zones.has(origin) || this.store.get(origin) !== undefined) continue;
      const st = this.state(origin, false);
      st.primary = cat.primary;
      st.primaryTerm = cat.primaryTerm;
      st.primarySince = cat.primarySince;
      this.log.info({ zone: origin, catalogSerial: snap.serial }, "zone in the leader's catalog but not here: pulling it");
      void this.sync(st, 'catalog');
    }
  }

  /**
   * SOA expire (RFC 1035 §3.3.13, §4.3.5): a zone not confirmed with its primary for
   * `expire` seconds is no longer authoritative data; BIND answers SERVFAIL for it. Armed at
   * every confirmation, so it fires only when refreshes (and NOTIFYs) have all failed since.
   */
  private armExpiry(st: ZoneState): void {
    if (st.expireTimer) clearTimeout(st.expireTimer);
    st.expireTimer = undefined;
    const snap = this.store.get(st.origin);
    if (!snap || this.closed) return;
    const expire = (snap.soa.data as SoaRdata).expire;
    const left = st.confirmedAt + expire * 1000 - Date.now();
    if (left <= 0) {
      this.expire(st, snap.serial, expire);
      return;
    }
    // setTimeout fires at once past 2^31-1 ms (24.8 days); a longer wait is re-armed on firing.
    st.expireTimer = setTimeout(() => this.armExpiry(st), Math.min(left + 1, 2 ** 31 - 1));
    st.expireTimer.unref();
  }

  private expire(st: ZoneState, serial: number, expire: number): void {
    if (st.expired || this.zones.get(st.origin) !== st) return;
    st.expired = true;
    this.store.setExpired(st.origin, true);
    zoneExpired.set({ zone: st.origin }, 1);
    this.log.warn({ zone: st.origin, serial, expire, confirmedAt: new Date(st.confirmedAt).toISOString(), primary: st.primary && `${st.primary.host}:${st.primary.port}`, lastError: st.lastError }, 'zone expired: not confirmed with its primary for the SOA expire; answering SERVFAIL for it');
  }

  private refreshMs(st: ZoneState): number {
    if (this.opts.refreshMs !== undefined) return this.opts.refreshMs;
    const soa = this.store.get(st.origin)?.soa.data as SoaRdata | undefined;
    return Math.max(1, soa?.refresh ?? 60) * 1000;
  }

  private retryMs(st: ZoneState): number {
    if (this.opts.refreshMs !== undefined) return this.opts.refreshMs;
    const soa = this.store.get(st.origin)?.soa.data as SoaRdata | undefined;
    return Math.max(1, soa?.retry ?? 10) * 1000;
  }

  private schedule(st: ZoneState, ms: number): void {
    if (this.closed) return;
    if (st.timer) clearTimeout(st.timer);
    st.timer = setTimeout(() => void this.refresh(st), ms);
    st.timer.unref();
  }

  /** The SOA check: pull when the primary has a newer serial. */
  private async refresh(st: ZoneState): Promise<void> {
    if (!st.primary || this.closed) return;
    const cur = this.store.get(st.origin);
    try {
      const soa = await querySoa(st.primary, st.origin, this.auth, 3000);
      const remote = soaSerial(soa);
      if (!cur || (remote !== undefined && serialGt(remote, cur.serial))) {
        await this.sync(st, 'refresh');
        return;
      }
      // The primary holds what we hold: confirmed (a zone restored from disk becomes ready).
      if (remote === cur.serial) this.synced(st, 'refresh');
      else this.schedule(st, this.refreshMs(st));
    } catch (err) {
      this.pullFailed(st, err, 'refresh');
    }
  }
}
