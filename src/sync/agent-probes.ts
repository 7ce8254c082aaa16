/** SOA questions the primary asks its agents, apart from the NOTIFY/ACK exchange. */
import type { Auth } from './auth.js';
import { querySoa } from './client.js';
import { soaSerial } from './codec.js';
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
