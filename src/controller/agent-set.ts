/**
 * The agents the leader pushes to, from the agent Pods the informer holds: every Pod with an
 * address that is not being deleted is pushed to; only Ready ones count in statuses.
 */
import type { AgentPod } from './objects.js';
import type { AgentEndpoint } from './publisher.js';

export interface AgentSet {
  /** Sorted by id. */
  readonly endpoints: AgentEndpoint[];
  /** Ids of the Ready agents, sorted. */
  readonly ready: string[];
  /** Agent Pods that exist (not being deleted) but are not Ready. */
  readonly notReady: number;
}

/** `pods`: by id (namespace/name); `port`: the agents' sync port. */
export function agentSet(pods: Iterable<readonly [string, AgentPod]>, port: number): AgentSet {
  const endpoints: AgentEndpoint[] = [];
  const ready: string[] = [];
  let notReady = 0;
  for (const [id, p] of pods) {
    if (!p.deleting && !p.ready) notReady++;
    if (!p.podIP || p.deleting) continue;
    endpoints.push({ id, host: p.podIP, port });
    if (p.ready) ready.push(id);
  }
  endpoints.sort((a, b) => (a.id < b.id ? -1 : 1));
  ready.sort();
  return { endpoints, ready, notReady };
}
