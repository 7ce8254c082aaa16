/**
 * The controller's core: informer events in, reconcile, push to the agents through the
 * publisher, and statuses + Events out. I/O reaches it only through its ports (publisher,
 * status writer, event sink), so the whole loop runs in tests without an API server.
 *
 * Leader or standby: both keep the reconciled state current from their informers; only the
 * leader holds a publisher and writes status, so a takeover starts from a warm model.
 */
import type { EventToEmit } from '../k8s/events.js';
import type { Logger } from '../observability/logger.js';
import { FanoutPacer, cpuMs, type PacerOptions } from '../sync/pacer.js';
import { agentSet } from './agent-set.js';
import { zonesBehind, type ZoneBehind } from './agent-status.js';
import { sameRecordSpec } from './decode.js';
import { agentsGauge, deposedTotal } from './metrics.js';
import { recordKey, type AgentPod, type NamespaceObject, type RecordObject, type ZoneObject } from './objects.js';
import type { RdataParser } from './policy.js';
import type { AgentEndpoint, PublisherFactory, ZonePublisher } from './publisher.js';
import { Reconciler, rrDiff, type FlushResult } from './reconciler.js';
import { PropagationState } from './propagation.js';
import { StatusReporter } from './status-reporter.js';
import type { PatchFn } from './status-writer.js';

export interface ControllerOptions {
  readonly log: Logger;
  readonly parse: RdataParser;
  readonly publisher: PublisherFactory;
  readonly patchStatus: PatchFn;
  readonly isNotFound: (err: unknown) => boolean;
  readonly emitEvent: (e: EventToEmit) => void;
  readonly agentSyncPort: number;
  readonly statusQps?: number;
  readonly statusBurst?: number;
  readonly statusDelayMs?: number;
  /** Least time between two pushes of one burst (default 5 ms); a lone change is not delayed. */
  readonly minFlushIntervalMs?: number;
  /** How a burst is paced into serials (src/sync/pacer.ts); its minGapMs is the above. */
  readonly pacing?: Omit<PacerOptions, 'minGapMs'>;
  readonly now?: () => Date;
  /** An agent follows a newer leader than us: the leader election should check the Lease now. */
  readonly onDeposed?: () => void;
  /**
   * A zone's status lists the agents behind its serial for longer than this (default 10 s),
   * at most `behindCap` of them (default 20).
   */
  readonly behindAfterMs?: number;
  readonly behindCap?: number;
}

const ACK_STATUS_MS = 100;

/** What exists only while leading: dropped whole when stepping down, nothing reset by hand. */
interface Term {
  readonly publisher: ZonePublisher;
  readonly prop: PropagationState;
  /** Zones acknowledged since the last ack-driven status pass was scheduled. */
  readonly ackedSoon: Set<string>;
  ackTimer: NodeJS.Timeout | undefined;
  readonly behindTimer: NodeJS.Timeout;
  /** Per zone origin: the agents behind it, as the zone's status shows them. */
  behind: Map<string, ZoneBehind>;
}

export class Controller {
  private readonly rec: Reconciler;
  private readonly status: StatusReporter;
  private readonly log: Logger;
  private readonly now: () => Date;
  /** Set while leading. */
  private term: Term | undefined;
  private transition: Promise<void> = Promise.resolve();

  private readonly pods = new Map<string, AgentPod>();
  private endpoints: AgentEndpoint[] = [];
  private readyAgents: string[] = [];
  /** Agent Pods that exist (not being deleted) but are not Ready. */
  private notReadyAgents = 0;

  private batchAt: number | undefined;
  private flushQueued = false;
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly pacer: FanoutPacer;
  private agentsQueued = false;

  constructor(private readonly opts: ControllerOptions) {
    this.rec = new Reconciler(opts.parse);
    this.log = opts.log;
    this.now = opts.now ?? ((): Date => new Date());
    this.pacer = new FanoutPacer({ ...opts.pacing, minGapMs: opts.minFlushIntervalMs ?? 5 });
    this.status = new StatusReporter({
      rec: this.rec,
      log: opts.log,
      now: this.now,
      emitEvent: opts.emitEvent,
      patchStatus: opts.patchStatus,
      isNotFound: opts.isNotFound,
      statusQps: opts.statusQps,
      statusBurst: opts.statusBurst,
      statusDelayMs: opts.statusDelayMs,
      leader: () => {
        const term = this.term;
        return term && { prop: term.prop, behind: term.behind, readyAgents: this.readyAgents, notReadyAgents: this.notReadyAgents };
      },
    });
  }

  get isLeading(): boolean {
    return this.term !== undefined;
  }

  // ---- informer inputs -------------------------------------------------------------------

  recordUpserted(r: RecordObject, old: RecordObject | undefined, at: number): void {
    const key = recordKey(r);
    this.status.observeRecord(key, r.status);
    if (old && sameRecordSpec(old, r)) return;
    this.rec.upsertRecord(r);
    this.changed(at);
  }

  recordDeleted(r: RecordObject, at: number): void {
    const key = recordKey(r);
    this.rec.deleteRecord(key);
    this.status.recordGone(key);
    this.term?.prop.forget(key);
    this.changed(at);
  }

  zoneUpserted(z: ZoneObject, old: ZoneObject | undefined, at: number): void {
    this.status.observeZone(z.meta.name, z.status);
    if (old && old.meta.generation === z.meta.generation && old.meta.uid === z.meta.uid) return;
    this.rec.upsertZone(z);
    this.changed(at);
  }

  zoneDeleted(z: ZoneObject, at: number): void {
    this.rec.deleteZone(z.meta.name);
    this.status.zoneGone(z.meta.name);
    this.changed(at);
  }

  namespaceUpserted(ns: NamespaceObject, at: number): void {
    this.rec.setNamespace(ns);
    if (this.rec.pending) this.changed(at);
  }

  namespaceDeleted(ns: NamespaceObject, at: number): void {
    this.rec.deleteNamespace(ns.meta.name);
    if (this.rec.pending) this.changed(at);
  }

  podUpserted(p: AgentPod): void {
    this.pods.set(`${p.meta.namespace ?? ''}/${p.meta.name}`, p);
    this.agentsSoon();
  }

  podDeleted(p: AgentPod): void {
    this.pods.delete(`${p.meta.namespace ?? ''}/${p.meta.name}`);
    this.agentsSoon();
  }

  /**
   * An informer's list hands over every agent Pod one event at a time: at 5,000 nodes,
   * recomputing the agent set for each was quadratic (seconds of CPU at every start or
   * relist). One pass per event-loop turn instead.
   */
  private agentsSoon(): void {
    if (this.agentsQueued) return;
    this.agentsQueued = true;
    setImmediate(() => {
      if (this.agentsQueued) this.agentsChanged();
    });
  }

  // ---- leadership ------------------------------------------------------------------------

  // Transitions run one after another; a failed one (reported to its caller) must not poison
  // the next, so the chain continues past a rejection.
  /** `term`: the leadership term (grows from one leader to the next; 0 without election). */
  startLeading(term = 0n): Promise<void> {
    this.transition = this.transition.catch(() => undefined).then(() => this.doStartLeading(term));
    return this.transition;
  }

  stopLeading(): Promise<void> {
    this.transition = this.transition.catch(() => undefined).then(() => this.doStopLeading());
    return this.transition;
  }

  private async doStartLeading(leaderTerm: bigint): Promise<void> {
    if (this.term) return;
    if (this.agentsQueued) this.agentsChanged();
    this.flush();
    const origins = [...this.rec.activeOrigins()];
    const pub = await this.opts.publisher(this.endpoints, origins, leaderTerm);
    pub.onAck((agent, origin, serial) => this.acked(agent, origin, serial));
    pub.onDrift((agent, origin, serial) => this.drifted(agent, origin, serial));
    pub.onDeposed((agent, origin) => this.deposed(agent, origin));
    const afterMs = this.opts.behindAfterMs ?? 10_000;
    const behindTimer = setInterval(() => this.refreshBehind(), Math.min(5_000, Math.max(250, afterMs / 2)));
    behindTimer.unref();
    const term: Term = { publisher: pub, prop: new PropagationState(pub), ackedSoon: new Set(), ackTimer: undefined, behindTimer, behind: new Map() };
    this.term = term;
    this.status.startedLeading();
    this.flush();
    for (const origin of this.rec.activeOrigins()) this.pushWhole(term, origin, undefined);
    pub.markLoaded();
    pub.setAgents(this.endpoints);
    for (const key of this.rec.allRecordKeys()) this.noteNeeded(term, key);
    this.status.everything();
    this.status.schedule();
    this.log.info({ zones: origins.length, agents: this.endpoints.length, term: String(leaderTerm) }, 'leading: zones pushed to agents');
  }

  private async doStopLeading(): Promise<void> {
    const term = this.term;
    if (!term) return;
    this.term = undefined;
    if (term.ackTimer) clearTimeout(term.ackTimer);
    clearInterval(term.behindTimer);
    this.status.stoppedLeading();
    this.pacer.reset();
    // A standby reports no agent states: only the leader knows them (alerts sum over controllers).
    agentsGauge.reset();
    await term.publisher.close();
    this.log.info('standing by: no longer pushing or writing status');
  }

  async close(): Promise<void> {
    await this.stopLeading();
    this.status.close();
  }

  /** Resolves when every queued status write has been sent (tests, shutdown). */
  statusIdle(): Promise<void> {
    return this.status.idle();
  }

  // ---- reconcile and push ----------------------------------------------------------------

  private changed(at: number): void {
    if (this.batchAt === undefined) this.batchAt = at;
    if (this.flushQueued) return;
    this.flushQueued = true;
    this.scheduleFlush();
  }

  /**
   * A quiet zone's change goes out at once (setImmediate still batches the events of one
   * read); in a burst, the next serial waits as long as the pacer says (src/sync/pacer.ts:
   * the CPU the last one cost, over the share of a core the leader may spend), so each
   * carries many changes instead of every agent applying and acknowledging thousands of tiny
   * steps — at 5,000 agents that is what bounds the leader's work.
   */
  private scheduleFlush(): void {
    const wait = this.pacer.delay(performance.now(), cpuMs());
    if (wait <= 0) {
      setImmediate(() => {
        this.flushQueued = false;
        this.flush();
      });
      return;
    }
    // The window may have grown meanwhile (ACKs still cost CPU): look again when it ends.
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.scheduleFlush();
    }, wait);
  }

  private flush(): void {
    const at = this.batchAt;
    this.batchAt = undefined;
    if (!this.rec.pending) return;
    const res = this.rec.flush();
    if (this.term) {
      this.push(this.term, res, at);
      this.pacer.published(performance.now(), cpuMs());
    }
    for (const k of res.records) this.status.recordChanged(k);
    for (const z of res.zones) this.status.zoneChanged(z);
    this.status.schedule();
  }

  private push(term: Term, res: FlushResult, at: number | undefined): void {
    const pub = term.publisher;
    for (const origin of res.zonesRemoved) {
      pub.removeZone(origin);
      term.prop.zoneRemoved(origin);
    }
    const whole = new Set<string>();
    for (const z of res.zonesUpserted) {
      this.pushWhole(term, z.origin, at);
      whole.add(z.origin);
    }
    for (const [origin, changes] of res.changes) {
      if (whole.has(origin)) continue;
      const { deleted, added } = rrDiff(changes);
      if (deleted.length === 0 && added.length === 0) continue;
      const serial = pub.applyChanges(origin, deleted, added);
      this.pushed(term, origin, serial, at);
    }
    for (const key of res.records) this.noteNeeded(term, key);
  }

  private pushWhole(term: Term, origin: string, at: number | undefined): void {
    const z = this.rec.activeZone(origin);
    if (!z) return;
    const serial = term.publisher.setZone({ origin, soa: z.soa, defaultTTL: z.defaultTTL }, [...this.rec.zoneRecords(origin)]);
    this.pushed(term, origin, serial, at);
  }

  private pushed(term: Term, origin: string, serial: number, at: number | undefined): void {
    term.prop.pushed(origin, serial, at);
    // The zone's status shows the new serial. Its pending records' counts do not move until
    // agents acknowledge (an agent holds a record once its serial reaches the record's), so
    // they wait for the ack-driven pass rather than being recomputed on every push.
    const obj = this.rec.activeZone(origin);
    if (obj) this.status.zoneChanged(obj.meta.name);
  }

  private noteNeeded(term: Term, key: string): void {
    const v = this.rec.verdict(key);
    term.prop.noteNeeded(key, v?.accepted ? v.zone : undefined);
  }

  // ---- agents and acknowledgements ---------------------------------------------------------

  private agentsChanged(): void {
    this.agentsQueued = false;
    const { endpoints, ready, notReady } = agentSet(this.pods, this.opts.agentSyncPort);
    const endpointsChanged = JSON.stringify(endpoints) !== JSON.stringify(this.endpoints);
    const readyChanged = JSON.stringify(ready) !== JSON.stringify(this.readyAgents);
    this.endpoints = endpoints;
    this.readyAgents = ready;
    if (notReady !== this.notReadyAgents) {
      this.notReadyAgents = notReady;
      this.status.schedule();
    }
    this.term?.prop.agentsChanged(ready, readyChanged);
    if (endpointsChanged) this.term?.publisher.setAgents(endpoints);
    if (readyChanged) {
      this.log.info({ ready: ready.length, agents: endpoints.length }, 'agent set changed');
      this.status.everything();
      this.status.schedule();
    }
  }

  /** Counts can go down: every record is re-evaluated (drift is rare; a restart, not a change). */
  /**
   * An agent refused our push for a newer leader's: the primary pushes there no more. Whether
   * we still lead is the Lease's to say, so ask it now (the CLI checks the Lease at once and
   * steps down if someone else holds it) rather than push elsewhere until the renew deadline.
   */
  private deposed(agent: string, origin: string): void {
    deposedTotal.inc();
    this.log.warn({ agent, zone: origin }, 'an agent follows a newer leader: no more pushes to it; checking the lease now');
    this.opts.onDeposed?.();
  }

  private drifted(agent: string, origin: string, serial: number | undefined): void {
    this.log.info({ agent, zone: origin, serial: serial ?? null }, 'agent lost data it had acknowledged; statuses re-evaluated while it resyncs');
    this.status.everything();
    this.term?.prop.drifted(origin);
    this.status.schedule();
  }

  private acked(_agent: string, origin: string, _serial: number): void {
    const term = this.term;
    if (!term) return;
    term.ackedSoon.add(origin);
    term.prop.acked(origin, this.readyAgents);
    // Acks arrive once per agent per serial: at 100 agents and a busy zone that is thousands a
    // second. Statuses are written with a delay anyway, so re-reading them at most every
    // ACK_STATUS_MS costs nothing visible and keeps this off the hot path. The acked zones
    // join the pass only then: a status pass for pushed changes (one per serial, hundreds a
    // second in a burst) would otherwise recompute every pending record of the zone each time.
    if (term.ackTimer) return;
    term.ackTimer = setTimeout(() => {
      term.ackTimer = undefined;
      for (const o of term.ackedSoon) this.status.zoneAcked(o);
      term.ackedSoon.clear();
      this.status.schedule();
    }, ACK_STATUS_MS);
  }

  /**
   * Which agents are behind each zone, from the sync engine's per-agent state: run on a timer,
   * since "behind for longer than the threshold" becomes true with no event. A zone's status
   * is rewritten only when its list changes.
   */
  private refreshBehind(): void {
    const term = this.term;
    const pub = term?.publisher;
    if (!term || pub?.agentStates === undefined) return;
    const pods = this.pods;
    const next = zonesBehind(
      pub.agentStates(),
      (id) => {
        const p = pods.get(id);
        return p === undefined ? undefined : { node: p.node, ready: p.ready };
      },
      this.now().getTime(),
      { afterMs: this.opts.behindAfterMs ?? 10_000, cap: this.opts.behindCap ?? 20 },
    );
    for (const origin of this.rec.activeOrigins()) {
      const was = term.behind.get(origin);
      const now = next.get(origin) ?? { count: 0, agents: [] };
      next.set(origin, now);
      if (was !== undefined && JSON.stringify(was) === JSON.stringify(now)) continue;
      const obj = this.rec.activeZone(origin);
      if (obj) this.status.zoneChanged(obj.meta.name);
      this.status.schedule();
    }
    term.behind = next;
  }
}
