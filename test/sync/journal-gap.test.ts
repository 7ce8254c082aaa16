/**
 * An agent that fell off the end of the journal: it was away while more changes were made
 * than the primary's journal keeps, so no diff reaches back to its serial. It must still end
 * up with exactly the primary's zone, by a whole-zone transfer (the IXFR it asks for answered
 * in AXFR form, RFC 1995 §4), not by a diff, and not stay behind believing it is current.
 * Addresses: 127.0.33.0/24.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Primary } from '../../src/sync/primary.js';
import { Secondary } from '../../src/sync/secondary.js';
import { ZoneStore } from '../../src/zone/store.js';
import { counterValue } from './metric-values.js';
import { waitFor } from '../util/wait.js';
import { KEY, a, hosts, sameZone } from './helpers.js';

const ORIGIN = 'gap.test';
const JOURNAL = 5;
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length) await (closers.pop() as () => Promise<void>)();
});

describe('an agent behind the end of the journal', () => {
  it('gets the whole zone, and then diffs again', async () => {
    let clock = 1_800_000_000;
    const primary = await Primary.start({ host: '127.0.33.1', port: 0, keys: [KEY], clock: () => clock, journal: { maxEntries: JOURNAL } });
    closers.push(() => primary.close());
    const store = new ZoneStore();
    // No refresh timer within the test: the agent learns of changes only by NOTIFY.
    const sec = await Secondary.start({ store, host: '127.0.33.10', port: 0, keys: [KEY], refreshMs: 3_600_000 });
    closers.push(() => sec.close());
    const agent = { id: 'a0', host: '127.0.33.10', port: sec.address.port };
    primary.setAgents([agent]);
    const base = hosts(ORIGIN, 10);
    primary.setZone(ORIGIN, base);
    await waitFor(() => sameZone(store.get(ORIGIN), primary.zone(ORIGIN)), { what: 'cold sync' });
    const away = store.get(ORIGIN)?.serial as number;

    // The agent drops out of the primary's agent set (a Pod not ready, a network partition)
    // while more changes than the journal holds are made.
    primary.setAgents([]);
    const added = [];
    for (let i = 0; i < JOURNAL * 3; i++) {
      clock++;
      added.push(a(`late${i}.${ORIGIN}`, `192.0.2.${i + 1}`));
      primary.setZone(ORIGIN, [...base, ...added]);
    }
    expect(store.get(ORIGIN)?.serial).toBe(away);
    const served = async (type: string): Promise<number> => counterValue('dnssync_sync_transfers_served_total', { type });
    const [wholeBefore, axfrBefore, diffBefore] = [await served('ixfr-axfr'), await served('axfr'), await served('ixfr')];

    primary.setAgents([agent]);
    await waitFor(() => sameZone(store.get(ORIGIN), primary.zone(ORIGIN)), { what: 'caught up after the gap', timeoutMs: 20_000 });
    // By a whole-zone transfer (an IXFR answered in AXFR form, or an AXFR), never a diff:
    // no diff in the journal starts at the agent's serial.
    const whole = (await served('ixfr-axfr')) - wholeBefore + ((await served('axfr')) - axfrBefore);
    expect(whole).toBeGreaterThanOrEqual(1);
    expect((await served('ixfr')) - diffBefore).toBe(0);
    await waitFor(() => primary.agentStates()[0]?.zones[0]?.inSync, { what: 'acknowledged' });

    // Back inside the journal: the next change goes as a diff again.
    const notifyBefore = await counterValue('dnssync_sync_updates_applied_total', { how: 'notify' });
    clock++;
    primary.setZone(ORIGIN, [...base, ...added, a(`after.${ORIGIN}`, '192.0.2.200')]);
    await waitFor(() => sameZone(store.get(ORIGIN), primary.zone(ORIGIN)), { what: 'the change after the gap' });
    expect((await counterValue('dnssync_sync_updates_applied_total', { how: 'notify' })) - notifyBefore).toBe(1);
  });
});
