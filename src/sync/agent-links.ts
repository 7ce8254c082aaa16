/**
 * What the primary knows of each agent, per zone (a link): what it acknowledged, since when
 * it is behind, the NOTIFY outstanding, and what kind of peer it is. Plain data and the
 * report built from it; the delivery state machine (delivery.ts) moves it.
 */
import { CATALOG_ORIGIN } from './catalog.js';
import { agentLag, agentSerial } from './metrics.js';
import type { AgentEndpoint, AgentState } from './primary-types.js';
import type { ServedZone } from './served-zone.js';

export interface Inflight {
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
  /** The last NOTIFY went on the agent's push stream (push-stream.ts), which loses nothing. */
  streamed: boolean;
}

export interface Link {
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
  /** MAC of the shared-signature NOTIFY last sent on this link (see Delivery.sendOne). */
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

export interface Agent extends AgentEndpoint {
  readonly links: Map<string, Link>;
}

/** A NOTIFY outstanding under its header ID: whose it is and the MAC its answer must cover. */
export interface Sent {
  readonly link: Link;
  readonly mac: Buffer | undefined;
}

export function newLink(a: Agent, origin: string): Link {
  return { agent: a, origin, acked: undefined, behindSince: undefined, inflight: undefined, standard: false, plainOnly: false, lastSharedMac: undefined, fenced: false, lastError: undefined, sharedMacs: [] };
}

/**
 * Whether this peer may get the NOTIFY signed once for everyone. A verifier must restore the
 * Original ID before checking the MAC; dnssync agents do, but Knot (test/sync/knot.test.ts)
 * stopped acknowledging NOTIFYs whose header ID differed from the signed one. So only a peer
 * known to be a dnssync agent gets the shared copy: one that has acknowledged with a
 * serial, which standard secondaries never do; everyone else gets a copy signed for it.
 */
export function sharesSignature(link: Link): boolean {
  return link.acked !== undefined && !link.standard;
}

/** Every agent's state per zone, for status and `dnssync status`. */
export function agentStates(agents: Iterable<Agent>, zones: ReadonlyMap<string, ServedZone>, now: number): AgentState[] {
  return [...agents].map((a) => ({
    id: a.id,
    host: a.host,
    port: a.port,
    zones: [...zones.entries()].map(([o, z]) => {
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

export const RCODE_NAMES: Readonly<Record<number, string>> = { 1: 'FORMERR', 2: 'SERVFAIL', 4: 'NOTIMP', 5: 'REFUSED', 9: 'NOTAUTH' };

/** What went wrong last on a link; a NOTIFY retried without an answer counts while it lasts. */
export function lastError(link: Link | undefined): string | undefined {
  const attempts = link?.inflight?.attempt ?? 0;
  if (attempts >= 2 && link?.inflight?.receipt !== true) return `no answer to ${attempts + 1} NOTIFYs for the current change${link?.lastError === undefined ? '' : `; before: ${link.lastError}`}`;
  return link?.lastError;
}

/**
 * Links with nothing outstanding: what we believe of them is what the heartbeat checks. Not
 * fenced ones: an agent that follows a newer leader is not ours to resync, and probing it
 * would report its successor's data as drift (an event the controller acts on) every round.
 */
export function settledLinks(agents: Iterable<Agent>): Link[] {
  const out: Link[] = [];
  for (const a of agents) for (const l of a.links.values()) if (!l.inflight && l.acked !== undefined && !l.fenced) out.push(l);
  return out;
}

/**
 * Lag is "seconds behind", which grows while nothing happens: it is refreshed on a clock, and
 * the acked serials with it (a hundred agents ack every change: not worth a gauge write each).
 */
export function publishLag(agents: Iterable<Agent>, now: number): void {
  for (const a of agents) {
    for (const l of a.links.values()) {
      agentLag.set({ agent: a.id, zone: l.origin }, l.behindSince === undefined ? 0 : (now - l.behindSince) / 1000);
      if (l.acked !== undefined) agentSerial.set({ agent: a.id, zone: l.origin }, l.acked);
    }
  }
}

/**
 * Whether to offer `a` the catalog: only a dnssync agent follows it, known by a NOTIFY
 * answer carrying its serial (a standard secondary's carries none, and BIND or Knot
 * answer a NOTIFY for a zone they lack unsigned, which would be retried for ever) — or,
 * when we serve no other zone, anyone.
 */
export function followsCatalog(a: Agent, zones: ReadonlyMap<string, unknown>): boolean {
  for (const l of a.links.values()) if (l.acked !== undefined && !l.standard) return true;
  // No zone but the catalog: nothing else would ever show it, and an agent holding zones
  // deleted while no leader ran must still hear that none is left.
  return zones.size === 1 && zones.has(CATALOG_ORIGIN);
}
