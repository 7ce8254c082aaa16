/**
 * The per-agent part of a DNSZone's status: which agents are behind the zone's current
 * serial, since when, and the last thing that went wrong with them — what `dnssync status`
 * and `kubectl get dnszone -o yaml` show. Bounded for 5,000 agents: a count, and only the
 * agents behind for longer than a threshold, longest first, at most a few. Timestamps rather
 * than lag in seconds, so the status changes only when an agent crosses the threshold or
 * recovers, not every second it stays behind.
 */

/** One agent's view of one zone, as the sync engine reports it (Primary.agentStates). */
export interface AgentZoneReport {
  readonly origin: string;
  readonly ackedSerial: number | undefined;
  readonly inSync: boolean;
  /** ms since the epoch; undefined when in sync. */
  readonly behindSince: number | undefined;
  readonly lastError: string | undefined;
}

export interface AgentReport {
  readonly id: string;
  readonly zones: readonly AgentZoneReport[];
}

export interface BehindAgent {
  /** The agent Pod, namespace/name. */
  readonly agent: string;
  readonly node?: string;
  /** Whether its Pod is Ready. */
  readonly ready: boolean;
  /** The serial it last acknowledged; absent when it never acknowledged one. */
  readonly serial?: number;
  /** Behind the current serial since then (RFC 3339, seconds). */
  readonly since: string;
  readonly lastError?: string;
}

export interface ZoneBehind {
  /** Agents behind the current serial for longer than the threshold. */
  readonly count: number;
  /** The longest behind of them, at most the cap; `count` says how many were left out. */
  readonly agents: readonly BehindAgent[];
}

export interface AgentInfo {
  readonly node: string | undefined;
  readonly ready: boolean;
}

export interface BehindOptions {
  /** An agent counts as behind only after this long (a push in flight is not "behind"). */
  readonly afterMs: number;
  /** At most this many agents listed per zone. */
  readonly cap: number;
}

function isoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Per zone origin: the agents behind it. Every zone any agent reports gets an entry. */
export function zonesBehind(reports: readonly AgentReport[], info: (id: string) => AgentInfo | undefined, now: number, opts: BehindOptions): Map<string, ZoneBehind> {
  const behind = new Map<string, { since: number; agent: BehindAgent }[]>();
  for (const a of reports) {
    for (const z of a.zones) {
      let list = behind.get(z.origin);
      if (list === undefined) behind.set(z.origin, (list = []));
      if (z.inSync || z.behindSince === undefined || now - z.behindSince < opts.afterMs) continue;
      const i = info(a.id);
      list.push({
        since: z.behindSince,
        agent: {
          agent: a.id,
          ...(i?.node !== undefined ? { node: i.node } : {}),
          ready: i?.ready ?? false,
          ...(z.ackedSerial !== undefined ? { serial: z.ackedSerial } : {}),
          since: isoSeconds(z.behindSince),
          ...(z.lastError !== undefined ? { lastError: z.lastError.slice(0, 256) } : {}),
        },
      });
    }
  }
  const out = new Map<string, ZoneBehind>();
  for (const [origin, list] of behind) {
    list.sort((x, y) => x.since - y.since || (x.agent.agent < y.agent.agent ? -1 : 1));
    out.set(origin, { count: list.length, agents: list.slice(0, opts.cap).map((x) => x.agent) });
  }
  return out;
}
