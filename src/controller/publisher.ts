/**
 * What the controller needs from the sync engine, as an interface: the controller reaches
 * agents only through it (DESIGN.md, "Layout"), and tests can watch what it is asked to do.
 * cli/controller.ts adapts the sync engine's Primary to it.
 */
import type { RR } from '../dns/rr.js';
import type { AgentReport } from './agent-status.js';
import type { ZoneSpec } from './reconciler.js';

export interface AgentEndpoint {
  readonly id: string;
  readonly host: string;
  readonly port: number;
}

export interface ZonePublisher {
  /** Creates or replaces a zone with exactly these records (SOA excluded); returns its serial. */
  setZone(spec: ZoneSpec, records: readonly RR[]): number;
  /** Applies a change to an existing zone and pushes it; returns the new serial. */
  applyChanges(origin: string, deleted: readonly RR[], added: readonly RR[]): number;
  removeZone(origin: string): void;
  /**
   * Every zone has been set once in this term: from now on an unknown zone is a removed
   * one (agents drop it), not one still loading.
   */
  markLoaded(): void;
  /** Where agents are; a new one is brought up to date at once, a missing one forgotten. */
  setAgents(agents: readonly AgentEndpoint[]): void;
  /** The serial `agentId` last acknowledged for `origin` (or was found holding by the heartbeat). */
  acked(agentId: string, origin: string): number | undefined;
  onAck(listener: (agentId: string, origin: string, serial: number) => void): void;
  /**
   * An agent was found holding other than it acknowledged (restarted in place, lost state;
   * undefined: it lacks the zone). Records it counted for may no longer be applied there.
   */
  onDrift(listener: (agentId: string, origin: string, serial: number | undefined) => void): void;
  /**
   * An agent follows a newer leadership term than ours for `origin` (sync/fencing.ts): pushes
   * to it have stopped; we may have been deposed without knowing yet.
   */
  onDeposed(listener: (agentId: string, origin: string) => void): void;
  /** Every agent's state per zone (behind since when, last error), for the zones' status. */
  agentStates?(): readonly AgentReport[];
  close(): Promise<void>;
}

/**
 * Builds a publisher for a new term of leadership. It may ask the agents for their serials
 * first, so that a takeover never sends a serial older than one they already hold. `term`
 * (0: none) rides in every push; agents refuse pushes from older terms (sync/fencing.ts).
 */
export type PublisherFactory = (agents: readonly AgentEndpoint[], zones: readonly string[], term: bigint) => Promise<ZonePublisher>;
