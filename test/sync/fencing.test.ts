/**
 * Leadership terms, in process (the two-controller version is test/controller/leadership.test.ts):
 * a push from an older term is refused and its sender stops; a primary never moves its serial
 * past an agent's by itself; a newer term whose agent an older leader moved ahead resumes past
 * that serial, so the agent ends on the newer leader's data with serials still going forward.
 * Both primaries share one pinned clock, so serials are steps (+1), not time stamps.
 */
import { describe, expect, it } from 'vitest';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logger } from '../../src/observability/logger.js';
import type { Endpoint } from '../../src/sync/client.js';
import { ZonePersistence } from '../../src/sync/zone-persist.js';
import { Primary } from '../../src/sync/primary.js';
import { Secondary } from '../../src/sync/secondary.js';
import { serialGt } from '../../src/sync/serials.js';
import { ZoneStore } from '../../src/zone/store.js';
import { waitFor } from '../util/wait.js';
import { FAST, leaders } from './leaders.js';
import { KEY, a, hosts, recordSet, sameZone } from './helpers.js';

const ORIGIN = 'fence.test';
const clock = (): number => 1_000_000;
const { primary, agent, closers } = leaders(clock);

const has = (store: ZoneStore, name: string): boolean => recordSet(store.get(ORIGIN)?.records() ?? []).some((k) => k.startsWith(name));

describe('leadership terms', () => {
  it("a deposed leader's push is refused, it stops pushing there, and the agent stays on the new leader's data", async () => {
    const ag = await agent('127.0.69.10');
    const old = await primary('127.0.69.1', 5n);
    old.setZone(ORIGIN, hosts(ORIGIN, 3));
    old.setAgents([{ id: 'ag', ...ag.sec.address }]);
    await waitFor(() => sameZone(ag.store.get(ORIGIN), old.zone(ORIGIN)), { what: 'synced from the old leader' });
    // The new leader probes first (its serials start past the agent's), then pushes.
    const next = await primary('127.0.69.2', 6n);
    next.setAgents([{ id: 'ag', ...ag.sec.address }]);
    await next.probeSerials([ORIGIN]);
    next.setZone(ORIGIN, [...hosts(ORIGIN, 3), a(`new.${ORIGIN}`, '192.0.2.6')]);
    await waitFor(() => sameZone(ag.store.get(ORIGIN), next.zone(ORIGIN)), { what: 'synced from the new leader' });
    // The old one, not knowing, pushes changes of its own — to a serial past the new leader's.
    old.updateZone(ORIGIN, { deleted: [], added: [a(`stale.${ORIGIN}`, '192.0.2.5')] });
    old.updateZone(ORIGIN, { deleted: [], added: [a(`stale2.${ORIGIN}`, '192.0.2.5')] });
    expect(serialGt(old.zone(ORIGIN)?.serial as number, next.zone(ORIGIN)?.serial as number)).toBe(true);
    let deposed = false;
    old.once('deposed', () => (deposed = true));
    // Today's fault ends the other way: the stale zone reaches the agent.
    await waitFor(() => deposed || has(ag.store, `stale.${ORIGIN}`), { what: 'the old leader told it is deposed', timeoutMs: 10_000 });
    expect(has(ag.store, `stale.${ORIGIN}`)).toBe(false);
    expect(deposed).toBe(true);
    expect(sameZone(ag.store.get(ORIGIN), next.zone(ORIGIN))).toBe(true);
    expect(next.agentStates()[0]?.zones[0]?.inSync).toBe(true);
    expect(old.agentStates()[0]?.zones[0]?.attempts).toBe(0); // stopped: nothing outstanding
  });

  it('an agent an older leader moved ahead: the newer term resumes past its serial and its data wins', async () => {
    const ag = await agent('127.0.69.11');
    const next = await primary('127.0.69.4', 8n);
    // The new leader probed before the old one's last push: its first serial is behind it.
    next.setZone(ORIGIN, [...hosts(ORIGIN, 3), a(`new.${ORIGIN}`, '192.0.2.8')]);
    const old = await primary('127.0.69.3', 7n);
    old.raiseSerialFloor(ORIGIN, next.zone(ORIGIN)?.serial as number);
    old.setZone(ORIGIN, [...hosts(ORIGIN, 3), a(`stale.${ORIGIN}`, '192.0.2.7')]);
    old.setAgents([{ id: 'ag', ...ag.sec.address }]);
    await waitFor(() => sameZone(ag.store.get(ORIGIN), old.zone(ORIGIN)), { what: "the old leader's push landed first" });
    const ahead = ag.store.get(ORIGIN)?.serial as number;
    expect(serialGt(ahead, next.zone(ORIGIN)?.serial as number)).toBe(true);
    next.setAgents([{ id: 'ag', ...ag.sec.address }]);
    await waitFor(() => sameZone(ag.store.get(ORIGIN), next.zone(ORIGIN)), { what: "the new leader's data, past the old serial", timeoutMs: 10_000 });
    expect(serialGt(ag.store.get(ORIGIN)?.serial as number, ahead)).toBe(true);
    expect(has(ag.store, `stale.${ORIGIN}`)).toBe(false);
    await waitFor(() => next.agentStates()[0]?.zones[0]?.inSync, { what: 'the new leader sees it in sync' });
  });

  it('at the same term, a primary does not move its serial past an agent that is ahead', async () => {
    const ag = await agent('127.0.69.12');
    const p1 = await primary('127.0.69.5', 9n);
    p1.setZone(ORIGIN, hosts(ORIGIN, 2));
    p1.setAgents([{ id: 'ag', ...ag.sec.address }]);
    await waitFor(() => sameZone(ag.store.get(ORIGIN), p1.zone(ORIGIN)), { what: 'synced' });
    // A second primary claiming the same term, ahead: not p1's to overrule, nor to follow.
    const p2 = await primary('127.0.69.6', 9n);
    p2.raiseSerialFloor(ORIGIN, (p1.zone(ORIGIN)?.serial as number) + 10);
    p2.setZone(ORIGIN, hosts(ORIGIN, 4));
    p2.setAgents([{ id: 'ag', ...ag.sec.address }]);
    await waitFor(() => sameZone(ag.store.get(ORIGIN), p2.zone(ORIGIN)), { what: 'the agent moved ahead of p1' });
    const serial = p1.updateZone(ORIGIN, { deleted: [], added: [a(`x.${ORIGIN}`, '192.0.2.1')] });
    await waitFor(() => p1.agentStates()[0]?.zones[0]?.ackedSerial === ag.store.get(ORIGIN)?.serial, { what: "p1 hears the agent's serial" });
    expect(p1.zone(ORIGIN)?.serial).toBe(serial);
    expect(p1.agentStates()[0]?.zones[0]?.inSync).toBe(false);
  });

  it('a restarted agent keeps its highest term (state directory): an older leader that reaches it first is still refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dnssync-fence-state-'));
    closers.push(async () => rmSync(dir, { recursive: true, force: true }));
    const host = '127.0.69.13';
    const store1 = new ZoneStore();
    const sec1 = await Secondary.start({ store: store1, host, port: 0, keys: [KEY], refreshMs: 60_000, persist: new ZonePersistence(dir, logger('test'), 10) });
    closers.push(() => sec1.close());
    const next = await primary('127.0.69.7', 11n);
    next.setZone(ORIGIN, [...hosts(ORIGIN, 2), a(`new.${ORIGIN}`, '192.0.2.11')]);
    next.setAgents([{ id: 'ag', ...sec1.address }]);
    await waitFor(() => sameZone(store1.get(ORIGIN), next.zone(ORIGIN)), { what: 'synced from the term-11 leader' });
    const port = sec1.address.port;
    // The agent restarts (its state on disk) while the current leader is away.
    await sec1.close();
    await next.close();
    const persist = new ZonePersistence(dir, logger('test'), 10);
    const restored = persist.loadAll();
    const store = new ZoneStore();
    for (const z of restored) store.set(z.snapshot);
    const sec = await Secondary.start({ store, host, port, keys: [KEY], refreshMs: 60_000, persist, restored });
    closers.push(() => sec.close());
    expect(has(store, `new.${ORIGIN}`)).toBe(true);
    // A deposed leader (term 10), unaware, pushes data of its own past that serial.
    const old = await primary('127.0.69.8', 10n);
    old.raiseSerialFloor(ORIGIN, store.get(ORIGIN)?.serial as number);
    old.setZone(ORIGIN, [...hosts(ORIGIN, 2), a(`stale.${ORIGIN}`, '192.0.2.10')]);
    let deposed = false;
    old.once('deposed', () => (deposed = true));
    old.setAgents([{ id: 'ag', host, port }]);
    // Before the term was kept, the restarted agent knew no term and took the stale push.
    await waitFor(() => deposed || has(store, `stale.${ORIGIN}`), { what: 'the old leader refused or its data taken', timeoutMs: 10_000 });
    expect(has(store, `stale.${ORIGIN}`)).toBe(false);
    expect(deposed).toBe(true);
  });

  it('a link fenced by a newer leader is no longer heartbeat-probed', async () => {
    const ag = await agent('127.0.69.14');
    // Count what the old leader sends the agent: a relay in front of the agent's sync port.
    const relay = await countingRelay('127.0.69.15', ag.sec.address);
    closers.push(() => relay.close());
    const old = await Primary.start({ host: '127.0.69.16', port: 0, keys: [KEY], term: 12n, clock, retry: FAST, heartbeat: { intervalMs: 100, maxPerSecond: 1000 } });
    closers.push(() => old.close());
    old.setZone(ORIGIN, hosts(ORIGIN, 3));
    old.setAgents([{ id: 'ag', ...relay.address }]);
    await waitFor(() => old.agentStates()[0]?.zones[0]?.inSync, { what: 'synced from the old leader' });
    await waitFor(() => relay.queries > 0, { what: 'the heartbeat probing the agent', timeoutMs: 5_000 });
    const next = await Primary.start({ host: '127.0.69.17', port: 0, keys: [KEY], term: 13n, clock, retry: FAST, heartbeat: false });
    closers.push(() => next.close());
    next.setAgents([{ id: 'ag', ...ag.sec.address }]);
    await next.probeSerials([ORIGIN]);
    next.setZone(ORIGIN, [...hosts(ORIGIN, 3), a(`new.${ORIGIN}`, '192.0.2.13')]);
    await waitFor(() => sameZone(ag.store.get(ORIGIN), next.zone(ORIGIN)), { what: 'synced from the new leader' });
    let deposed = false;
    old.once('deposed', () => (deposed = true));
    old.updateZone(ORIGIN, { deleted: [], added: [a(`stale.${ORIGIN}`, '192.0.2.12')] });
    await waitFor(() => deposed, { what: 'the old leader told it is deposed', timeoutMs: 10_000 });
    const before = relay.queries;
    // Ten heartbeat intervals: before, every one probed the fenced agent again.
    const until = Date.now() + 1_000;
    await waitFor(() => Date.now() >= until, { what: 'ten heartbeat intervals', timeoutMs: 5_000 });
    expect(relay.queries - before).toBe(0);
  });
});

/**
 * A UDP relay in front of an agent's sync port that counts the queries (QR=0, opcode QUERY)
 * passing through it; answers go back to whoever asked, by message ID.
 */
async function countingRelay(host: string, to: Endpoint): Promise<{ address: Endpoint; readonly queries: number; close(): Promise<void> }> {
  const sock = createSocket('udp4');
  const askers = new Map<number, { address: string; port: number }>();
  let queries = 0;
  sock.on('message', (msg, r) => {
    if (msg.length < 12) return;
    const id = msg.readUInt16BE(0);
    if (r.address === to.host && r.port === to.port) {
      const back = askers.get(id);
      if (back) sock.send(msg, back.port, back.address);
      return;
    }
    if (((msg[2] as number) & 0xf8) === 0) queries++;
    askers.set(id, { address: r.address, port: r.port });
    sock.send(msg, to.port, to.host);
  });
  await new Promise<void>((res) => sock.bind(0, host, () => res()));
  return {
    address: { host, port: sock.address().port },
    get queries() {
      return queries;
    },
    close: () => new Promise<void>((res) => sock.close(() => res())),
  };
}

