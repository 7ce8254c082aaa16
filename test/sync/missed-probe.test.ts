/**
 * A new leader of the same term (0 without election, or a leader restarted at the term it
 * had) whose probe of the agents' serials did not reach them before its first push — the
 * probe timed out under load (`make bench-fleet` at 5,000 agents), or an agent was away — so
 * its first serial is behind what the agents hold. The agents' answers then report later
 * serials from the same term; before, the leader held ("not ours to overrule") and, with no
 * change to come, the agents kept the old leader's data and serial for good. An agent's first
 * answer to a leader is the probe answer it missed: it raises the leader's serial past it, as
 * the probe would have. Once a leader has heard from an agent, a later serial of the same term
 * still moves nothing (fencing.test.ts: no leapfrog between two leaders of one term).
 * The clock is pinned, so serials are steps (+1), not time stamps. Addresses: 127.0.93.0/24.
 */
import { describe, expect, it } from 'vitest';
import { serialGt } from '../../src/sync/serials.js';
import { waitFor } from '../util/wait.js';
import { leaders } from './leaders.js';
import { a, hosts, recordSet, sameZone } from './helpers.js';

const ORIGIN = 'missed-probe.test';
const { primary, agent } = leaders((): number => 2_000_000);

describe('a new leader of the same term whose probe missed the agents', () => {
  for (const [n, term] of [
    [0, 0n],
    [1, 7n],
  ] as const) {
    it(`term ${term}: the agents' later serial raises the new leader's, and they end on its data`, async () => {
      const ags = [await agent(`127.0.93.${10 + 10 * n}`), await agent(`127.0.93.${11 + 10 * n}`)];
      const endpoints = ags.map((x, i) => ({ id: `ag${i}`, ...x.sec.address }));
      const old = await primary(`127.0.93.${1 + 10 * n}`, term);
      old.setZone(ORIGIN, hosts(ORIGIN, 3));
      old.setAgents(endpoints);
      for (let i = 0; i < 3; i++) old.updateZone(ORIGIN, { deleted: [], added: [a(`old${i}.${ORIGIN}`, '192.0.2.1')] });
      await waitFor(() => ags.every((x) => sameZone(x.store.get(ORIGIN), old.zone(ORIGIN))), { what: 'both agents synced from the old leader' });
      const held = old.zone(ORIGIN)?.serial as number;
      await old.close();

      // The next leader, same term and clock; its probe came back empty (timed out), so its
      // first serial is the clock's, three behind what the agents hold.
      const next = await primary(`127.0.93.${2 + 10 * n}`, term);
      next.setZone(ORIGIN, [...hosts(ORIGIN, 3), a(`new.${ORIGIN}`, '192.0.2.6')]);
      expect(serialGt(held, next.zone(ORIGIN)?.serial as number)).toBe(true);
      next.setAgents(endpoints);
      await waitFor(() => ags.every((x) => sameZone(x.store.get(ORIGIN), next.zone(ORIGIN))), { what: "both agents on the new leader's data", timeoutMs: 10_000 });
      expect(serialGt(next.zone(ORIGIN)?.serial as number, held)).toBe(true);
      for (const x of ags) expect(recordSet(x.store.get(ORIGIN)?.records() ?? []).some((k) => k.startsWith(`old0.${ORIGIN}`))).toBe(false);
      await waitFor(() => next.agentStates().every((s) => s.zones[0]?.inSync === true), { what: 'the new leader sees both in sync' });
    });
  }
});
