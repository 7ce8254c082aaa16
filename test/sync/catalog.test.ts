/**
 * The leader's catalog, in process: the edge the process tests do not reach — a leader that
 * serves no zone at all (every DNSZone deleted while no leader ran) must still tell agents so.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Primary } from '../../src/sync/primary.js';
import { Secondary } from '../../src/sync/secondary.js';
import { ZoneStore } from '../../src/zone/store.js';
import { waitFor } from '../util/wait.js';
import { KEY, hosts, sameZone } from './helpers.js';

const ORIGIN = 'only.catalog.test';
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length) await (closers.pop() as () => Promise<void>)();
});

describe("the leader's catalog", () => {
  it('a leader with no zones left still offers its (empty) catalog: the agent drops the zone deleted while no leader ran', async () => {
    const store = new ZoneStore();
    const sec = await Secondary.start({ store, host: '127.0.38.30', port: 0, keys: [KEY], refreshMs: 60_000 });
    closers.push(() => sec.close());
    const first = await Primary.start({ host: '127.0.38.31', port: 0, keys: [KEY], term: 20n, catalog: true, heartbeat: false });
    closers.push(() => first.close());
    first.setZone(ORIGIN, hosts(ORIGIN, 2));
    first.markZonesLoaded();
    first.setAgents([{ id: 'ag', ...sec.address }]);
    await waitFor(() => sameZone(store.get(ORIGIN), first.zone(ORIGIN)) && sec.notReady() === undefined, { what: 'zone and catalog synced' });
    await first.close();
    // The next leader (its own address, a newer term) has no zone at all.
    const next = await Primary.start({ host: '127.0.38.32', port: 0, keys: [KEY], term: 21n, catalog: true, heartbeat: false });
    closers.push(() => next.close());
    next.setAgents([{ id: 'ag', ...sec.address }]);
    next.markZonesLoaded();
    await waitFor(() => store.get(ORIGIN) === undefined, { what: 'the agent drops the zone no leader serves any more', timeoutMs: 5_000 });
    expect(sec.zoneStates().map((z) => z.origin)).toEqual(['catalog.dnssync.invalid']);
  });
});
