/**
 * A change too large for one NOTIFY datagram reaches a dnssync agent whole, in one NOTIFY on
 * its push stream (src/sync/push-stream.ts), not as a chain of datagram-sized legs with a
 * round trip each (what 100 changes/s cost at 5,000 agents: several round trips per agent
 * per second) and not as a pull. Checked with real agents (Secondary), in-process.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Primary } from '../../src/sync/primary.js';
import { Secondary } from '../../src/sync/secondary.js';
import { ZoneStore } from '../../src/zone/store.js';
import { counterValue } from './metric-values.js';
import { waitFor } from '../util/wait.js';
import { KEY, a, hosts, sameZone } from './helpers.js';

const ORIGIN = 'push-stream.test';
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length) await (closers.pop() as () => Promise<void>)();
});

const sent = (kind: string): Promise<number> => counterValue('dnssync_sync_notifies_sent_total', { kind });
async function pulls(): Promise<number> {
  return (await counterValue('dnssync_sync_transfers_served_total')) - (await counterValue('dnssync_sync_transfers_served_total', { type: 'soa' }));
}

describe('push streams', () => {
  it('a 100-record change reaches caught-up agents in one NOTIFY each over their stream: no legs, no pull', async () => {
    let now = 1_800_000_000;
    const primary = await Primary.start({ host: '127.0.131.1', port: 0, keys: [KEY], clock: () => now, heartbeat: false, pushStreams: true });
    closers.push(() => primary.close());
    const stores = [new ZoneStore(), new ZoneStore()];
    const secs = await Promise.all(stores.map((store, i) => Secondary.start({ store, host: `127.0.131.${10 + i}`, port: 0, keys: [KEY] })));
    for (const s of secs) closers.push(() => s.close());
    primary.setAgents(secs.map((s, i) => ({ id: `a${i}`, host: s.address.host, port: s.address.port })));
    primary.setZone(ORIGIN, hosts(ORIGIN, 5));
    await waitFor(() => stores.every((st) => sameZone(st.get(ORIGIN), primary.zone(ORIGIN))), { what: 'cold sync' });
    const before = { stream: await sent('stream'), leg: await sent('leg'), plain: await sent('plain'), pulls: await pulls() };
    now++;
    const added = Array.from({ length: 100 }, (_, i) => a(`big${i}.${ORIGIN}`, `198.51.100.${(i % 250) + 1}`));
    const serial = primary.updateZone(ORIGIN, { deleted: [], added });
    await waitFor(() => stores.every((st) => st.get(ORIGIN)?.serial === serial), { what: `both agents at ${serial}` });
    expect(stores.every((st) => sameZone(st.get(ORIGIN), primary.zone(ORIGIN)))).toBe(true);
    await waitFor(() => primary.agentStates().every((s) => s.zones.every((z) => z.inSync)), { what: 'both acknowledged' });
    // Before streams: 7 legs per agent (about 17 A records fit a datagram), each a round trip.
    expect((await sent('stream')) - before.stream).toBe(2);
    expect((await sent('leg')) - before.leg).toBe(0);
    expect((await sent('plain')) - before.plain).toBe(0);
    expect((await pulls()) - before.pulls).toBe(0);
    expect(primary.fanout.streams).toBe(2);
  });

  it('an agent whose stream cannot open still gets the change, by datagrams', async () => {
    let now = 1_800_000_000;
    const primary = await Primary.start({ host: '127.0.131.2', port: 0, keys: [KEY], clock: () => now, heartbeat: false, pushStreams: true });
    closers.push(() => primary.close());
    const store = new ZoneStore();
    const sec = await Secondary.start({ store, host: '127.0.131.20', port: 0, keys: [KEY] });
    closers.push(() => sec.close());
    // The agent's TCP side refuses everything: only its datagrams get through.
    const tcp = (sec as unknown as { pair: { tcp: { close(): void } } }).pair.tcp;
    tcp.close();
    primary.setAgents([{ id: 'a0', host: sec.address.host, port: sec.address.port }]);
    primary.setZone(ORIGIN, hosts(ORIGIN, 5));
    await waitFor(() => sameZone(store.get(ORIGIN), primary.zone(ORIGIN)), { what: 'cold sync' });
    now++;
    const added = Array.from({ length: 100 }, (_, i) => a(`big${i}.${ORIGIN}`, `198.51.100.${(i % 250) + 1}`));
    const serial = primary.updateZone(ORIGIN, { deleted: [], added });
    await waitFor(() => store.get(ORIGIN)?.serial === serial, { what: `agent at ${serial}`, timeoutMs: 15_000 });
    expect(sameZone(store.get(ORIGIN), primary.zone(ORIGIN))).toBe(true);
  });
});
