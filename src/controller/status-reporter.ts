/**
 * What the leader reports back on the API objects: which statuses and Events a change calls
 * for, from the reconciled verdicts and the propagation state, queued on the batched status
 * writer. The controller marks what changed (records, zones, acknowledged zones, or
 * everything) and asks for a pass; one pass per event-loop turn reads what is marked.
 */
import type { EventToEmit } from '../k8s/events.js';
import type { Logger } from '../observability/logger.js';
import type { ZoneBehind } from './agent-status.js';
import { agentsGauge, pendingChanges } from './metrics.js';
import type { PropagationState } from './propagation.js';
import type { Reconciler } from './reconciler.js';
import { onlyCountChanged, recordStatus, refusalTransition, sameStatus, zoneStatus } from './status.js';
import { StatusWriter, type PatchFn } from './status-writer.js';

const GROUP_VERSION = 'dnssync.io/v1alpha1';

function isoSeconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** What a status pass reads of the leader's state. */
export interface LeaderView {
  readonly prop: PropagationState;
  /** Per zone origin: the agents behind it, as the zone's status shows them. */
  readonly behind: ReadonlyMap<string, ZoneBehind>;
  readonly readyAgents: readonly string[];
  /** Agent Pods that exist (not being deleted) but are not Ready. */
  readonly notReadyAgents: number;
}

export interface StatusReporterOptions {
  readonly rec: Reconciler;
  readonly log: Logger;
  readonly now: () => Date;
  readonly emitEvent: (e: EventToEmit) => void;
  readonly patchStatus: PatchFn;
  readonly isNotFound: (err: unknown) => boolean;
  readonly statusQps?: number | undefined;
  readonly statusBurst?: number | undefined;
  readonly statusDelayMs?: number | undefined;
  /** The leader's state; undefined while standing by (a pass then drops what was marked). */
  readonly leader: () => LeaderView | undefined;
}

export class StatusReporter {
  private readonly rec: Reconciler;
  private readonly writer: StatusWriter;
  /** Status as last seen on the object (from the informer), by status key. */
  private readonly observed = new Map<string, unknown>();
  /** Status we last queued for writing, by status key; wins over `observed`. */
  private readonly written = new Map<string, unknown>();
  private readonly eventsSent = new Map<string, string>();

  private dirtyRecords = new Set<string>();
  private dirtyZones = new Set<string>();
  private ackedZones = new Set<string>();
  private allDirty = false;
  private queued = false;

  constructor(private readonly opts: StatusReporterOptions) {
    this.rec = opts.rec;
    this.writer = new StatusWriter({
      patch: opts.patchStatus,
      log: opts.log,
      isNotFound: opts.isNotFound,
      qps: opts.statusQps,
      burst: opts.statusBurst,
      delayMs: opts.statusDelayMs,
      gone: (key) => this.written.delete(key),
    });
  }

  // ---- what the informers saw ------------------------------------------------------------

  observeRecord(key: string, status: unknown): void {
    this.observed.set(`r:${key}`, status);
  }

  observeZone(name: string, status: unknown): void {
    this.observed.set(`z:${name}`, status);
  }

  recordGone(key: string): void {
    for (const m of [this.observed, this.written]) m.delete(`r:${key}`);
    this.eventsSent.delete(key);
    this.writer.drop(`r:${key}`);
  }

  zoneGone(name: string): void {
    for (const m of [this.observed, this.written]) m.delete(`z:${name}`);
    this.writer.drop(`z:${name}`);
  }

  // ---- what the next pass looks at -------------------------------------------------------

  recordChanged(key: string): void {
    this.dirtyRecords.add(key);
  }

  zoneChanged(name: string): void {
    this.dirtyZones.add(name);
  }

  /** Zones agents acknowledged: their pending records are looked at again. */
  zoneAcked(origin: string): void {
    this.ackedZones.add(origin);
  }

  /** Every record and zone (the agent set changed, an agent lost data, a new term). */
  everything(): void {
    this.allDirty = true;
  }

  schedule(): void {
    if (this.queued) return;
    this.queued = true;
    setImmediate(() => {
      this.queued = false;
      this.pass();
    });
  }

  // ---- leadership ------------------------------------------------------------------------

  /** What we wrote as an earlier leader may have been overwritten since: read it again. */
  startedLeading(): void {
    this.written.clear();
  }

  /** A standby writes nothing: queued writes are dropped. */
  stoppedLeading(): void {
    this.writer.clear();
    this.written.clear();
  }

  close(): void {
    this.writer.close();
  }

  /** Resolves when every queued status write has been sent (tests, shutdown). */
  idle(): Promise<void> {
    return this.writer.idle();
  }

  // ---- the pass --------------------------------------------------------------------------

  private pass(): void {
    const leader = this.opts.leader();
    if (!leader) {
      this.dirtyRecords.clear();
      this.dirtyZones.clear();
      this.ackedZones.clear();
      this.allDirty = false;
      return;
    }
    const now = isoSeconds(this.opts.now());
    let records: Iterable<string>;
    let zones: Iterable<string>;
    if (this.allDirty) {
      records = [...this.rec.allRecordKeys()];
      zones = [...this.rec.allZones()].map((z) => z.meta.name);
    } else {
      const r = new Set(this.dirtyRecords);
      const z = new Set(this.dirtyZones);
      for (const origin of this.ackedZones) {
        for (const k of leader.prop.pendingIn(origin)) r.add(k);
        const obj = this.rec.activeZone(origin);
        if (obj) z.add(obj.meta.name);
      }
      records = r;
      zones = z;
    }
    this.allDirty = false;
    this.dirtyRecords = new Set();
    this.dirtyZones = new Set();
    this.ackedZones = new Set();
    for (const key of records) this.updateRecordStatus(leader, key, now);
    for (const name of zones) this.updateZoneStatus(leader, name, now);
    this.updateGauges(leader);
  }

  private updateRecordStatus(leader: LeaderView, key: string, now: string): void {
    const r = this.rec.record(key);
    const v = this.rec.verdict(key);
    if (!r || !v) return;
    const readyAgents = leader.readyAgents;
    const prop = v.accepted ? leader.prop.propagation(v.zone, leader.prop.needed.get(key), readyAgents) : { acked: 0, total: readyAgents.length };
    const skey = `r:${key}`;
    const prev = this.written.get(skey) ?? this.observed.get(skey);
    const next = recordStatus(r.meta.generation, v, prop, prev, now);
    // Not (or no longer, after an agent lost data) applied everywhere: acks re-evaluate it.
    if (v.accepted) leader.prop.settled(v.zone, key, prop.total > 0 && prop.acked >= prop.total);
    const refusal = refusalTransition(prev, next);
    if (refusal && this.eventsSent.get(key) !== `${refusal.reason}\u0000${refusal.message}`) {
      this.eventsSent.set(key, `${refusal.reason}\u0000${refusal.message}`);
      this.opts.emitEvent({
        object: { apiVersion: GROUP_VERSION, kind: 'DNSRecord', name: r.meta.name, namespace: r.meta.namespace, uid: r.meta.uid },
        type: 'Warning',
        reason: refusal.reason,
        message: refusal.message,
      });
      this.opts.log.info({ record: key, reason: refusal.reason }, refusal.message);
    }
    if (v.accepted) this.eventsSent.delete(key);
    if (sameStatus(prev, next)) return;
    this.written.set(skey, next);
    // Agents joining or leaving change every record's count: those writes yield to real changes.
    this.writer.enqueue(skey, { kind: 'DNSRecord', namespace: r.meta.namespace, name: r.meta.name }, next, onlyCountChanged(prev, next) ? 'background' : 'urgent');
  }

  private updateZoneStatus(leader: LeaderView, name: string, now: string): void {
    const z = this.rec.zone(name);
    const v = this.rec.zoneVerdict(name);
    if (!z || !v) return;
    const serial = v.accepted ? leader.prop.zoneSerial.get(z.origin) : undefined;
    const prop = leader.prop.propagation(z.origin, serial, leader.readyAgents);
    const skey = `z:${name}`;
    const prev = this.written.get(skey) ?? this.observed.get(skey);
    const next = zoneStatus(z.meta.generation, v, serial, this.rec.recordCount(z.origin), prop, prev, now, v.accepted ? leader.behind.get(z.origin) : undefined);
    const refusal = refusalTransition(prev, next);
    if (refusal && this.eventsSent.get(skey) !== `${refusal.reason}\u0000${refusal.message}`) {
      this.eventsSent.set(skey, `${refusal.reason}\u0000${refusal.message}`);
      this.opts.emitEvent({ object: { apiVersion: GROUP_VERSION, kind: 'DNSZone', name, uid: z.meta.uid }, type: 'Warning', reason: refusal.reason, message: refusal.message });
    }
    if (sameStatus(prev, next)) return;
    this.written.set(skey, next);
    this.writer.enqueue(skey, { kind: 'DNSZone', name }, next, onlyCountChanged(prev, next) ? 'background' : 'urgent');
  }

  private updateGauges(leader: LeaderView): void {
    const inSync = leader.prop.inSync(leader.readyAgents);
    agentsGauge.set({ state: 'in_sync' }, inSync);
    agentsGauge.set({ state: 'lagging' }, leader.readyAgents.length - inSync);
    agentsGauge.set({ state: 'not_ready' }, leader.notReadyAgents);
    pendingChanges.set(this.rec.pendingCount + leader.prop.unsettledCount());
  }
}
