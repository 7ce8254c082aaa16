/**
 * Which transfer endpoint a primary names in its NOTIFYs (the leader info). An explicit one
 * wins; otherwise the bound address when it is specific: a wildcard (0.0.0.0, ::) says
 * nothing an agent could dial, so then no endpoint is named and agents fall back to the
 * NOTIFY's source address.
 */
import type { Endpoint } from './client.js';
import type { LeaderInfo } from './leader-info.js';

const WILDCARDS = new Set(['0.0.0.0', '::', '0:0:0:0:0:0:0:0', '']);

export function advertisedEndpoint(bound: Endpoint, explicit: Endpoint | undefined): Endpoint | undefined {
  if (explicit) return explicit;
  return WILDCARDS.has(bound.host) ? undefined : { host: bound.host, port: bound.port };
}

/** The leader info for a primary bound at `bound`: undefined when it would say nothing. */
export function advertisedInfo(bound: Endpoint, explicit: Endpoint | undefined, term = 0n): LeaderInfo | undefined {
  const transfer = advertisedEndpoint(bound, explicit);
  return transfer === undefined && term === 0n ? undefined : { term, transfer };
}
