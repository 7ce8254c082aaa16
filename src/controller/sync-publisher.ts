/**
 * The sync engine's Primary behind the controller's ZonePublisher port. The Primary keeps
 * per-agent state but reports acknowledgements as events; this keeps the newest acked serial
 * per agent and zone so Ready can be computed without asking the Primary for every record.
 */
import type { RR } from '../dns/rr.js';
import type { TsigKey } from '../dns/tsig.js';
import type { Logger } from '../observability/logger.js';
import { Primary, type SoaParams } from '../sync/primary.js';
import type { AgentReport } from './agent-status.js';
import type { AgentEndpoint, PublisherFactory, ZonePublisher } from './publisher.js';
import type { ZoneSpec } from './reconciler.js';

export interface SyncPublisherOptions {
  readonly host: string;
  readonly port: number;
  /** The transfer endpoint named in every NOTIFY (default: the bound address when specific). */
  readonly advertise?: { readonly host: string; readonly port: number } | undefined;
  readonly keys: readonly TsigKey[];
  /** The drift heartbeat's pace (sync/heartbeat.ts); default there. */
  readonly heartbeat?: { readonly intervalMs: number; readonly maxPerSecond: number };
  readonly log: Logger;
  /** How long a takeover waits for agents to report their serials. */
  readonly probeTimeoutMs?: number;
  /** Seconds since the epoch for time-stamp serials (default: the real clock; tests hold it back). */
  readonly clock?: () => number;
  /** Diffs larger than a datagram over per-agent TCP streams (sync/push-stream.ts; default off). */
  readonly pushStreams?: boolean;
}

function soaParams(spec: ZoneSpec): SoaParams {
  return { refresh: spec.soa.refresh, retry: spec.soa.retry, expire: spec.soa.expire, minimum: spec.soa.negativeTTL };
}

export class SyncPublisher implements ZonePublisher {
  private readonly ackedSerials = new Map<string, Map<string, number>>();
  private readonly params = new Map<string, SoaParams>();

  constructor(readonly primary: Primary) {
    primary.on('ack', (agent, origin, serial) => this.record(agent, origin, serial));
    // An agent restarted or lost state: it holds less than it acknowledged; count what it holds.
    primary.on('drift', (agent, origin, serial) => this.record(agent, origin, serial));
  }

  private record(agent: string, origin: string, serial: number | undefined): void {
    let m = this.ackedSerials.get(agent);
    if (!m) this.ackedSerials.set(agent, (m = new Map()));
    if (serial === undefined) m.delete(origin);
    else m.set(origin, serial);
  }

  setZone(spec: ZoneSpec, records: readonly RR[]): number {
    const p = soaParams(spec);
    this.params.set(spec.origin, p);
    return this.primary.setZone(spec.origin, records, p);
  }

  applyChanges(origin: string, deleted: readonly RR[], added: readonly RR[]): number {
    // A burst coalesced into one change is many independent objects: in datagram-sized
    // serials it reaches every agent as NOTIFYs, never as a pull.
    return this.primary.updateZoneInSteps(origin, { deleted, added }, this.params.get(origin));
  }

  removeZone(origin: string): void {
    this.params.delete(origin);
    this.primary.removeZone(origin);
    for (const m of this.ackedSerials.values()) m.delete(origin);
  }

  markLoaded(): void {
    this.primary.markZonesLoaded();
  }

  setAgents(agents: readonly AgentEndpoint[]): void {
    const ids = new Set(agents.map((a) => a.id));
    for (const id of this.ackedSerials.keys()) if (!ids.has(id)) this.ackedSerials.delete(id);
    this.primary.setAgents(agents);
  }

  acked(agentId: string, origin: string): number | undefined {
    return this.ackedSerials.get(agentId)?.get(origin);
  }

  onAck(listener: (agentId: string, origin: string, serial: number) => void): void {
    this.primary.on('ack', listener);
  }

  onDrift(listener: (agentId: string, origin: string, serial: number | undefined) => void): void {
    this.primary.on('drift', listener);
  }

  onDeposed(listener: (agentId: string, origin: string) => void): void {
    this.primary.on('deposed', listener);
  }

  agentStates(): readonly AgentReport[] {
    return this.primary.agentStates();
  }

  close(): Promise<void> {
    return this.primary.close();
  }
}

/**
 * Each term of leadership gets a fresh Primary on the transfer port. Before the first push it
 * asks the agents which serials they hold, so the new serials are newer than any of them —
 * a serial never goes back across a takeover, or agents would ignore the new leader.
 */
export function syncPublisherFactory(opts: SyncPublisherOptions): PublisherFactory {
  return async (agents, zones, term) => {
    const primary = await Primary.start({ host: opts.host, port: opts.port, term, catalog: true, ...(opts.advertise ? { advertise: opts.advertise } : {}), ...(opts.heartbeat ? { heartbeat: opts.heartbeat } : {}), ...(opts.clock ? { clock: opts.clock } : {}), ...(opts.pushStreams !== undefined ? { pushStreams: opts.pushStreams } : {}), keys: opts.keys, log: opts.log });
    primary.setAgents(agents);
    if (agents.length > 0 && zones.length > 0) {
      const found = await primary.probeSerials(zones, opts.probeTimeoutMs ?? 1000);
      opts.log.info({ agents: agents.length, serials: found }, 'learned agent serials before the first push');
    }
    return new SyncPublisher(primary);
  };
}
