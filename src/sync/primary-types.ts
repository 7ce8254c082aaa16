/** The primary's public vocabulary: its options, events and the per-agent state it reports. */
import type { Logger } from '../observability/logger.js';
import type { TsigKey } from '../dns/tsig.js';
import type { Endpoint } from './client.js';
import type { ConnLimits } from './conn-limit.js';
import type { HeartbeatOptions } from './heartbeat.js';
import type { JournalLimits } from './journal.js';
import type { WindowLimits } from './send-window.js';

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
  /**
   * Diffs larger than a datagram go to dnssync agents whole over a persistent TCP stream
   * (push-stream.ts) instead of datagram by datagram; needs an advertised transfer endpoint.
   * Default off: experimental — the 5,000-agent fleet run with streams stalled (README, Fleet).
   */
  readonly pushStreams?: boolean;
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
