/**
 * The zones an agent keeps in sync, and how: pulling (IXFR, falling back to AXFR) from each
 * zone's primary, the SOA refresh that is the safety net behind NOTIFYs, SOA expire, following
 * the leader's catalog, and the state file. secondary.ts is the wire side that feeds it
 * NOTIFYs; this writes only the zones it manages into the shared ZoneStore (the catalog into
 * a store of its own: it is never answered).
 */
import type { SoaRdata } from '../dns/rdata.js';
import { applyDiff } from '../zone/diff.js';
import { DiffBaseError, DiffConflictError, ZoneError } from '../zone/errors.js';
import { ZoneStore } from '../zone/store.js';
import type { ZoneDiff, ZoneSnapshot } from '../zone/types.js';
import type { Logger } from '../observability/logger.js';
import type { Auth } from './auth.js';
import { PeerRcodeError, querySoa } from './client.js';
import { RCODE, soaSerial } from './codec.js';
import type { PersistedZone, ZoneMeta, ZonePersistence } from './zone-persist.js';
import { CatalogError, catalogMembers, isCatalog } from './catalog.js';
import { applySeconds, pullFailures, updatesApplied, zoneExpired, zoneSerial, zonesDropped } from './metrics.js';
import { serialGt } from './serials.js';
import { syncZone, type PullHost } from './zone-pull.js';
import { endpointText, newZoneState, refreshMs, retryMs, savedKey, type SecondaryZoneState, type ZoneState } from './secondary-zone.js';

export interface SecondaryZonesOptions {
  readonly store: ZoneStore;
  readonly auth: Auth;
  readonly log: Logger;
  readonly transferTimeoutMs?: number;
  /** Overrides the SOA refresh interval (tests); default: the zone's SOA refresh. */
  readonly refreshMs?: number;
  readonly persist?: ZonePersistence;
}

export class SecondaryZones {
  private readonly zones = new Map<string, ZoneState>();
  /** The agent's store, but for the catalog, which is kept apart: it is never answered. */
  readonly store: Pick<ZoneStore, 'get' | 'set' | 'delete' | 'setExpired'>;
  private readonly catalogStore = new ZoneStore();
  private readonly auth: Auth;
  private readonly log: Logger;
  private closed = false;
  private readonly pullHost: PullHost;
  /**
   * The highest leadership term accepted from any NOTIFY: pushes from older terms are refused
   * (fencing.ts). Agent-wide, so a deposed leader cannot bring back a zone its successor
   * removed either. Kept in the state directory: a restarted agent still refuses a deposed
   * leader that reaches it before the current one does.
   */
  private highest: bigint;

  constructor(private readonly opts: SecondaryZonesOptions) {
    const pick = (origin: string): ZoneStore => (isCatalog(origin) ? this.catalogStore : opts.store);
    this.store = {
      get: (o) => pick(o).get(o),
      set: (snap) => pick(snap.origin).set(snap),
      delete: (o) => pick(o).delete(o),
      setExpired: (o, e) => pick(o).setExpired(o, e),
    };
    this.auth = opts.auth;
    this.log = opts.log;
    this.pullHost = { store: this.store, auth: opts.auth, log: opts.log, transferTimeoutMs: opts.transferTimeoutMs, closed: () => this.closed, synced: (st, how) => this.synced(st, how), failed: (st, err, why) => this.pullFailed(st, err, why) };
    this.highest = opts.persist?.loadMeta().term ?? 0n;
  }

  get highestTerm(): bigint {
    return this.highest;
  }

  /** A NOTIFY of a newer term was accepted: older terms are refused from now on. */
  raiseTerm(term: bigint, origin: string): void {
    if (term <= this.highest) return;
    this.log.info({ zone: origin, term: String(term), previous: String(this.highest) }, 'new leadership term');
    this.highest = term;
    this.opts.persist?.saveTerm(term);
  }

  get(origin: string): ZoneState | undefined {
    return this.zones.get(origin);
  }

  has(origin: string): boolean {
    return this.zones.has(origin);
  }

  /** The zone's state, created (not yet synced) when it is new. */
  state(origin: string, isStatic: boolean): ZoneState {
    let st = this.zones.get(origin);
    if (!st) {
      st = newZoneState(origin, isStatic);
      this.zones.set(origin, st);
    }
    return st;
  }

  /**
   * Zones kept from before a restart are served at once but count as unconfirmed (not
   * ready) until an SOA check with their primary agrees, which starts now.
   */
  restore(restored: readonly PersistedZone[]): void {
    for (const { snapshot, meta } of restored) {
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
      this.log.info({ zone: snapshot.origin, serial: snapshot.serial, primary: endpointText(meta.primary) }, 'zone restored from the state directory; serving it, confirming with the primary');
      void this.refresh(st);
    }
  }

  notReady(): string | undefined {
    const waiting = [...this.zones.values()].filter((z) => !z.synced || z.expired).map((z) => (z.origin || '.') + (z.expired ? ' (expired)' : ''));
    return waiting.length === 0 ? undefined : `zones not synced yet: ${waiting.join(', ')}`;
  }

  /** The leader's zone list (catalog) has been received (or restored) and synced. */
  hasCatalog(): boolean {
    return [...this.zones.values()].some((z) => isCatalog(z.origin) && z.synced);
  }

  zoneStates(): SecondaryZoneState[] {
    return [...this.zones.values()].map((z) => ({ origin: z.origin, primary: z.primary, serial: this.store.get(z.origin)?.serial, synced: z.synced, static: z.isStatic, lastError: z.lastError }));
  }

  close(): void {
    this.closed = true;
    for (const z of this.zones.values()) {
      if (z.timer) clearTimeout(z.timer);
      if (z.expireTimer) clearTimeout(z.expireTimer);
    }
    this.opts.persist?.flush();
  }

  /** Applies a NOTIFY's diff; false when it does not apply (the caller pulls instead). */
  applyNotifyDiff(st: ZoneState, current: ZoneSnapshot, diff: ZoneDiff, term: bigint): boolean {
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

  /**
   * Brings the zone up to date with its primary (zone-pull.ts); concurrent calls share one run.
   */
  sync(st: ZoneState, why: string, announced?: number): Promise<void> {
    return syncZone(this.pullHost, st, why, announced);
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
    this.log.warn({ zone: st.origin, primary: endpointText(st.primary), why, err: msg }, 'zone transfer failed; will retry');
    this.schedule(st, retryMs(this.soaOf(st), this.opts.refreshMs));
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

  /** The zone was confirmed with its primary (a transfer, a NOTIFY, or an SOA check). */
  synced(st: ZoneState, how: string): void {
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
    const saved = savedKey(st, z?.serial);
    if (!st.isStatic && saved !== st.saved) {
      st.saved = saved;
      this.opts.persist?.save(st.origin, () => this.persisted(st));
    }
    this.schedule(st, refreshMs(this.soaOf(st), this.opts.refreshMs));
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
    if (cat.dataTerm !== this.highest) {
      this.log.info({ zone: cat.origin, serial: snap.serial, term: String(cat.dataTerm), highestTerm: String(this.highest) }, 'catalog from an older leadership term: not acted on');
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
    this.log.warn({ zone: st.origin, serial, expire, confirmedAt: new Date(st.confirmedAt).toISOString(), primary: endpointText(st.primary), lastError: st.lastError }, 'zone expired: not confirmed with its primary for the SOA expire; answering SERVFAIL for it');
  }

  private soaOf(st: ZoneState): SoaRdata | undefined {
    return this.store.get(st.origin)?.soa.data as SoaRdata | undefined;
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
      else this.schedule(st, refreshMs(this.soaOf(st), this.opts.refreshMs));
    } catch (err) {
      this.pullFailed(st, err, 'refresh');
    }
  }
}
