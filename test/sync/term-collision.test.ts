/**
 * One serial, two contents (found by `make chaos`, the two-leaders fault): a new leader probes
 * the agents (serial S), the old one — paused, not yet aware it was deposed — wakes and pushes
 * its own S+1 before the new leader's first NOTIFY, and the new leader's first serial is S+1
 * too, with other data. The agent answered "S+1" and the new leader counted it in sync while
 * it served the old leader's data, until the next change (in the chaos run: 276 records
 * differing for 60 s, every agent and the new leader on the same serial). Serials alone cannot
 * tell the two apart; the term the data came from can: an agent whose data came from an older
 * term than the NOTIFY's does not take a diff or "same serial" as the same data, it transfers
 * the zone whole from the new leader. Both primaries share one pinned clock, so serials are
 * steps (+1). Addresses: 127.0.89.0/24.
 */
import { describe, expect, it } from 'vitest';
import { Secondary } from '../../src/sync/secondary.js';
import { ZoneStore } from '../../src/zone/store.js';
import { waitFor } from '../util/wait.js';
import { leaders } from './leaders.js';
import { KEY, a, hosts, recordSet, sameZone } from './helpers.js';

const ORIGIN = 'collide.test';
const { primary, closers } = leaders((): number => 1_000_000);

describe('the same serial from two leadership terms', () => {
  it("the old leader's S+1 reached the agent first; the new leader's own S+1 still wins", async () => {
    const store = new ZoneStore();
    const sec = await Secondary.start({ store, host: '127.0.89.10', port: 0, keys: [KEY], refreshMs: 60_000 });
    closers.push(() => sec.close());
    const agent = [{ id: 'ag', ...sec.address }];
    const old = await primary('127.0.89.1', 5n);
    old.setZone(ORIGIN, hosts(ORIGIN, 3));
    old.setAgents(agent);
    await waitFor(() => sameZone(store.get(ORIGIN), old.zone(ORIGIN)), { what: 'synced from the old leader' });
    const s = store.get(ORIGIN)?.serial as number;

    // The new leader takes over and probes: the agent is at S.
    const next = await primary('127.0.89.2', 6n);
    next.setAgents(agent);
    await next.probeSerials([ORIGIN]);
    // The old one, not knowing yet, pushes its S+1; it lands first.
    old.updateZone(ORIGIN, { deleted: [], added: [a(`stale.${ORIGIN}`, '192.0.2.5')] });
    await waitFor(() => store.get(ORIGIN)?.serial === s + 1, { what: "the old leader's S+1 on the agent" });
    // The new leader's first serial is S+1 too, with its own data.
    next.setZone(ORIGIN, [...hosts(ORIGIN, 3), a(`new.${ORIGIN}`, '192.0.2.6')]);
    expect(next.zone(ORIGIN)?.serial).toBe(s + 1);
    await waitFor(() => next.agentStates()[0]?.zones[0]?.inSync, { what: 'the new leader hears from the agent' });
    // In sync must mean the new leader's data: before the fix it was the old one's, at S+1.
    await waitFor(() => recordSet(store.get(ORIGIN)?.records() ?? []).join() === recordSet(next.zone(ORIGIN)?.records() ?? []).join(), {
      what: "the agent on the new leader's data",
      timeoutMs: 5000,
    }).catch(() => undefined);
    expect(recordSet(store.get(ORIGIN)?.records() ?? [])).toEqual(recordSet(next.zone(ORIGIN)?.records() ?? []));
    expect(next.agentStates()[0]?.zones[0]?.inSync).toBe(true);
  });
});
