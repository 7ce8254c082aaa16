/** SOA questions the primary asks its agents, apart from the NOTIFY/ACK exchange. */
import type { Auth } from './auth.js';
import { PeerRcodeError, querySoa } from './client.js';
import { RCODE, soaSerial } from './codec.js';
import { heartbeatProbes } from './metrics.js';
import type { AgentEndpoint } from './primary-types.js';
import { serialGt } from './serials.js';

/**
 * Every agent's serial of each origin (SOA over UDP to its sync port), the newest per origin;
 * `raise` hears every answer (the serial floors). Agents that do not answer in time are skipped.
 */
export async function probeSerials(agents: Iterable<AgentEndpoint>, origins: readonly string[], auth: Auth, timeoutMs: number, raise: (origin: string, serial: number) => void): Promise<Record<string, number>> {
  const found: Record<string, number> = {};
  const asks: Promise<void>[] = [];
  for (const a of agents) {
    for (const o of origins) {
      asks.push(
        querySoa(a, o, auth, timeoutMs).then(
          (soa) => {
            const s = soaSerial(soa);
            if (s === undefined) return;
            raise(o, s);
            const prev = found[o];
            if (prev === undefined || serialGt(s, prev)) found[o] = s;
          },
          () => undefined,
        ),
      );
    }
  }
  await Promise.all(asks);
  return found;
}

/**
 * A heartbeat probe: the serial `agent` holds of `origin` (undefined when it refuses: it lacks
 * the zone), or 'unknown' when it did not answer — which says nothing about its data (its Pod
 * status covers liveness).
 */
export async function heldSerial(agent: AgentEndpoint, origin: string, auth: Auth): Promise<number | undefined | 'unknown'> {
  heartbeatProbes.inc();
  try {
    return soaSerial(await querySoa(agent, origin, auth, 1000));
  } catch (err) {
    return err instanceof PeerRcodeError && err.rcode === RCODE.REFUSED ? undefined : 'unknown';
  }
}

/** What pollHeld asks of delivery. */
export interface PollHeld {
  /** The NOTIFY being followed is still outstanding (a false ends the poll). */
  live(): boolean;
  /** The zone's serial now. */
  current(): number | undefined;
  /** The agent holds `serial`, the zone's serial or later. */
  held(serial: number): void;
  /** Polled up to the cap without catching up: NOTIFY again. */
  resend(): void;
}

/**
 * After a receipt without a serial (a standard secondary, or an agent pulling): polls the
 * peer's SOA with doubling delays from `delay` until it holds the zone's serial, or the delay
 * reaches `maxMs`. The timer is `f.timer`, so clearing the link's NOTIFY also ends the poll.
 */
export function pollHeld(agent: AgentEndpoint, origin: string, auth: Auth, f: { timer: NodeJS.Timeout | undefined }, delay: number, maxMs: number, p: PollHeld): void {
  if (f.timer) clearTimeout(f.timer);
  f.timer = setTimeout(() => {
    if (!p.live()) return;
    if (delay >= maxMs) {
      p.resend();
      return;
    }
    querySoa(agent, origin, auth, 1000).then(
      (soa) => {
        if (!p.live()) return;
        const s = soaSerial(soa);
        const cur = p.current();
        if (s !== undefined && cur !== undefined && !serialGt(cur, s)) p.held(s);
        else pollHeld(agent, origin, auth, f, delay * 2, maxMs, p);
      },
      () => {
        if (p.live()) pollHeld(agent, origin, auth, f, delay * 2, maxMs, p);
      },
    );
  }, delay);
  f.timer.unref();
}
