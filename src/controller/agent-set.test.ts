import { describe, expect, it } from 'vitest';
import { agentSet } from './agent-set.js';
import type { AgentPod } from './objects.js';

function pod(name: string, podIP: string | undefined, ready: boolean, deleting = false): readonly [string, AgentPod] {
  return [`kube-system/${name}`, { meta: { name, namespace: 'kube-system', uid: name, resourceVersion: '1', generation: 1, created: 0 }, podIP, ready, deleting }] as const;
}

describe('agentSet', () => {
  it('pushes to every addressed Pod not being deleted, counts Ready ones, sorted by id', () => {
    const s = agentSet([pod('c', '10.0.0.3', true), pod('a', '10.0.0.1', false), pod('b', '10.0.0.2', true), pod('d', undefined, false), pod('e', '10.0.0.5', true, true)], 5353);
    expect(s.endpoints).toEqual([
      { id: 'kube-system/a', host: '10.0.0.1', port: 5353 },
      { id: 'kube-system/b', host: '10.0.0.2', port: 5353 },
      { id: 'kube-system/c', host: '10.0.0.3', port: 5353 },
    ]);
    expect(s.ready).toEqual(['kube-system/b', 'kube-system/c']);
    // a and d are not Ready; e is being deleted and counts nowhere.
    expect(s.notReady).toBe(2);
  });

  it('is empty without Pods', () => {
    expect(agentSet([], 53)).toEqual({ endpoints: [], ready: [], notReady: 0 });
  });
});
