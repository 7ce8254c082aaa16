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
