/**
 * Faults, each ending with every secondary holding exactly the primary's records (compared
 * record by record): 30% datagram loss on the NOTIFY path, an agent killed and restarted
 * mid-stream, the primary (a real `dnssync primary` process) killed and restarted mid-stream,
 * and 1,000 changes in a burst.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Primary } from '../../src/sync/primary.js';
import { Secondary } from '../../src/sync/secondary.js';
import { ZoneStore } from '../../src/zone/store.js';
import { parseMasterFile } from '../../src/dns/masterfile.js';
import { waitFor } from '../util/wait.js';
import { KEY, a, hosts, recordSet, sameZone } from './helpers.js';
import { startRelay } from './relay.js';
import { requireDist, dnssync, freePort, tempDir, writeKey, type Proc } from './procs.js';
import { serialGt } from '../../src/dns/serial.js';

const ORIGIN = 'faults.test';
const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (closers.length) await (closers.pop() as () => Promise<void> | void)();
});

const FAST = { initialMs: 50, maxMs: 400 };

async function agent(host: string, port = 0, store = new ZoneStore()): Promise<{ sec: Secondary; store: ZoneStore }> {
  const sec = await Secondary.start({ store, host, port, keys: [KEY], refreshMs: 2000 });
  closers.push(() => sec.close());
  return { sec, store };
}

describe('sync under faults', () => {
  it('30% of UDP datagrams dropped on the NOTIFY path: every agent converges', async () => {
    const primary = await Primary.start({ host: '127.0.31.200', port: 0, keys: [KEY], retry: FAST });
    closers.push(() => primary.close());
    const agents = [];
    const relays = [];
    for (let i = 0; i < 3; i++) {
      const ag = await agent(`127.0.31.${210 + i}`);
      const relay = await startRelay(`127.0.31.${220 + i}`, primary.address, ag.sec.address, 0.3, 7 + i);
      closers.push(() => relay.close());
      agents.push(ag);
      relays.push(relay);
    }
    primary.setAgents(relays.map((r, i) => ({ id: `lossy${i}`, host: r.address.host, port: r.address.port })));
    primary.setZone(ORIGIN, hosts(ORIGIN, 10));
    for (let i = 0; i < 60; i++) {
      primary.updateZone(ORIGIN, { deleted: [], added: [a(`c${i}.${ORIGIN}`, `192.0.2.${i + 1}`)] });
      if (i % 10 === 0) await new Promise((r) => setImmediate(r));
    }
    for (const ag of agents) await waitFor(() => sameZone(ag.store.get(ORIGIN), primary.zone(ORIGIN)), { what: 'lossy agent converged', timeoutMs: 30_000 });
    await waitFor(() => primary.agentStates().every((s) => s.zones.every((z) => z.inSync)), { what: 'acks through the lossy path', timeoutMs: 30_000 });
    expect(relays.reduce((n, r) => n + r.dropped, 0)).toBeGreaterThan(0);
  });

  it('an agent killed and restarted mid-stream converges', async () => {
    const primary = await Primary.start({ host: '127.0.31.201', port: 0, keys: [KEY], retry: FAST });
    closers.push(() => primary.close());
    const steady = await agent('127.0.31.230');
    const victim = await agent('127.0.31.231');
    const victimPort = victim.sec.address.port;
    primary.setAgents([
      { id: 'steady', ...steady.sec.address },
      { id: 'victim', ...victim.sec.address },
    ]);
    primary.setZone(ORIGIN, hosts(ORIGIN, 10));
    await waitFor(() => sameZone(victim.store.get(ORIGIN), primary.zone(ORIGIN)), { what: 'victim first sync' });
    let restarted: { sec: Secondary; store: ZoneStore } | undefined;
    for (let i = 0; i < 100; i++) {
      primary.updateZone(ORIGIN, { deleted: [], added: [a(`k${i}.${ORIGIN}`, '192.0.2.7')] });
      if (i === 30) await victim.sec.close(); // killed: its memory is gone with it
      if (i === 60) restarted = await agent('127.0.31.231', victimPort); // back, empty
      await new Promise((r) => setImmediate(r));
    }
    for (const ag of [steady, restarted]) await waitFor(() => sameZone(ag?.store.get(ORIGIN), primary.zone(ORIGIN)), { what: 'converged after the restart', timeoutMs: 20_000 });
    expect(restarted?.sec.notReady()).toBeUndefined();
  });

  it('the primary process killed and restarted mid-stream: serials go on forward, agents converge', async () => {
    requireDist();
    const t = tempDir('dnssync-faults-');
    closers.push(t.cleanup);
    const zoneFile = join(t.dir, `${ORIGIN}.zone`);
    const keyFile = writeKey(t.dir, KEY);
    const body = (n: number): string => `$TTL 60\n@ IN SOA ns hostmaster 1 60 10 3600 5\n@ NS ns\nns A 192.0.2.53\n` + Array.from({ length: n }, (_, i) => `r${i} A 198.51.100.${i % 250}\n`).join('');
    writeFileSync(zoneFile, body(1));
    const ag1 = await agent('127.0.31.240');
    const ag2 = await agent('127.0.31.241');
    const pHost = '127.0.31.202';
    const pPort = await freePort(pHost);
    const args = ['primary', '--zone-file', zoneFile, '--transfer-listen', `${pHost}:${pPort}`, '--notify', `${ag1.sec.address.host}:${ag1.sec.address.port}`, '--notify', `${ag2.sec.address.host}:${ag2.sec.address.port}`, '--tsig-key-file', keyFile, '--poll-interval', '100ms', '--state-file', join(t.dir, 'state.json')];
    let proc: Proc = dnssync(args);
    closers.push(() => proc.stop());
    const expected = (n: number): string[] => recordSet(parseMasterFile(body(n), { origin: ORIGIN }));
    const holds = (n: number) => () => [ag1, ag2].every((ag) => {
      const z = ag.store.get(ORIGIN);
      return z !== undefined && JSON.stringify(recordSet(z.records())) === JSON.stringify(expected(n));
    });
    await waitFor(holds(1), { what: 'agents at version 1', timeoutMs: 20_000 });
    let n = 1;
    for (; n <= 8; n++) {
      writeFileSync(zoneFile, body(n));
      await waitFor(holds(n), { what: `agents at version ${n}`, timeoutMs: 10_000 });
    }
    const serialBefore = ag1.store.get(ORIGIN)?.serial as number;
    // Killed right after a change: it may or may not have pushed it.
    writeFileSync(zoneFile, body(++n));
    proc.child.kill('SIGKILL');
    await proc.stop();
    // Changes keep coming while the primary is down.
    n += 5;
    writeFileSync(zoneFile, body(n));
    proc = dnssync(args);
    await waitFor(holds(n), { what: 'agents after the primary restart', timeoutMs: 20_000 });
    for (let i = 0; i < 5; i++) {
      n++;
      writeFileSync(zoneFile, body(n));
      await waitFor(holds(n), { what: `agents at version ${n} after restart`, timeoutMs: 10_000 });
    }
    // Forward by any of four mechanisms; each alone: restart-serials.test.ts.
    const serialAfter = ag1.store.get(ORIGIN)?.serial as number;
    expect(serialGt(serialAfter, serialBefore)).toBe(true);
    expect(ag2.store.get(ORIGIN)?.serial).toBe(serialAfter);
  });

  it('1,000 changes in a burst reach every agent exactly', async () => {
    const primary = await Primary.start({ host: '127.0.31.203', port: 0, keys: [KEY], retry: FAST });
    closers.push(() => primary.close());
    const agents = [];
    for (let i = 0; i < 5; i++) agents.push(await agent(`127.0.31.${250 + i}`));
    primary.setAgents(agents.map((ag, i) => ({ id: `b${i}`, ...ag.sec.address })));
    primary.setZone(ORIGIN, hosts(ORIGIN, 50));
    for (let i = 0; i < 1000; i++) {
      const del = i >= 10 && i % 3 === 0 ? [a(`burst${i - 10}.${ORIGIN}`, '192.0.2.10')] : [];
      primary.updateZone(ORIGIN, { deleted: del, added: [a(`burst${i}.${ORIGIN}`, '192.0.2.10')] });
    }
    for (const ag of agents) await waitFor(() => sameZone(ag.store.get(ORIGIN), primary.zone(ORIGIN)), { what: 'burst converged', timeoutMs: 30_000 });
    await waitFor(() => primary.agentStates().every((s) => s.zones.every((z) => z.inSync)), { what: 'burst acknowledged' });
  });
});
