import { describe, expect, it } from 'vitest';
import { zonesBehind, type AgentReport } from './agent-status.js';

const T0 = Date.parse('2026-12-03T12:00:00Z');

function agent(id: string, zones: { origin: string; acked?: number; behindSince?: number; lastError?: string }[]): AgentReport {
  return { id, zones: zones.map((z) => ({ origin: z.origin, ackedSerial: z.acked, inSync: z.behindSince === undefined, behindSince: z.behindSince, lastError: z.lastError })) };
}

const info = (id: string): { node: string; ready: boolean } | undefined => (id.endsWith('x') ? undefined : { node: `node-${id.slice(-1)}`, ready: id !== 'ns/a2' });

describe('zonesBehind', () => {
  it('lists only agents behind for longer than the threshold, longest first, with node, serial and last error', () => {
    const reports = [
      agent('ns/a1', [{ origin: 'z.test', acked: 5 }]),
      agent('ns/a2', [{ origin: 'z.test', acked: 3, behindSince: T0 - 60_000, lastError: 'no answer to 7 NOTIFYs for the current change' }]),
      agent('ns/a3', [{ origin: 'z.test', behindSince: T0 - 120_500 }]),
      agent('ns/a4', [{ origin: 'z.test', acked: 4, behindSince: T0 - 2_000 }]), // a push in flight
    ];
    const out = zonesBehind(reports, info, T0, { afterMs: 10_000, cap: 20 });
    expect(out.get('z.test')).toEqual({
      count: 2,
      agents: [
        { agent: 'ns/a3', node: 'node-3', ready: true, since: '2026-12-03T11:57:59Z' },
        { agent: 'ns/a2', node: 'node-2', ready: false, serial: 3, since: '2026-12-03T11:59:00Z', lastError: 'no answer to 7 NOTIFYs for the current change' },
      ],
    });
  });

  it('caps the list but counts every agent behind; zones with none behind still get an entry', () => {
    const reports = Array.from({ length: 50 }, (_, i) => agent(`ns/a${i}`, [{ origin: 'big.test', behindSince: T0 - 100_000 + i }, { origin: 'calm.test', acked: 1 }]));
    const out = zonesBehind(reports, info, T0, { afterMs: 10_000, cap: 20 });
    expect(out.get('big.test')?.count).toBe(50);
    expect(out.get('big.test')?.agents.map((a) => a.agent)).toEqual(Array.from({ length: 20 }, (_, i) => `ns/a${i}`));
    expect(out.get('calm.test')).toEqual({ count: 0, agents: [] });
  });

  it('the same state at a later time gives the same status (nothing to rewrite while an agent stays behind)', () => {
    const reports = [agent('ns/a1x', [{ origin: 'z.test', acked: 1, behindSince: T0 - 30_000, lastError: 'x'.repeat(300) }])];
    const a = zonesBehind(reports, info, T0, { afterMs: 10_000, cap: 20 });
    const b = zonesBehind(reports, info, T0 + 5_000, { afterMs: 10_000, cap: 20 });
    expect(JSON.stringify(a.get('z.test'))).toBe(JSON.stringify(b.get('z.test')));
    // An agent with no Pod in view: not ready, no node; a long error is cut to the schema's 256.
    expect(a.get('z.test')?.agents[0]?.ready).toBe(false);
    expect(a.get('z.test')?.agents[0]?.node).toBeUndefined();
    expect(a.get('z.test')?.agents[0]?.lastError).toHaveLength(256);
  });
});
