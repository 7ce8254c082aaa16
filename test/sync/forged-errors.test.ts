/**
 * Error answers change nothing unless the endpoint asked has signed them: something else
 * answering on the primary's address (a node behind NAT, an attacker who took the address)
 * with unsigned REFUSED or NOTAUTH to the agent's SOA check or to its transfer must not make
 * the agent drop the zone. A REFUSED the primary signs still does. Addresses: 127.0.34.0/24.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server, type Socket as TcpSocket } from 'node:net';
import { Primary } from '../../src/sync/primary.js';
import { Secondary } from '../../src/sync/secondary.js';
import { RCODE, errorResponse } from '../../src/sync/codec.js';
import { frame, readFrames } from '../../src/sync/tcp.js';
import type { Endpoint } from '../../src/sync/client.js';
import { ZoneStore } from '../../src/zone/store.js';
import { waitFor } from '../util/wait.js';
import { KEY, a, hosts, sameZone } from './helpers.js';

const ORIGIN = 'forged.test';
const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (closers.length) await (closers.pop() as () => Promise<void> | void)();
});

/**
 * Stands on `at` in the primary's place. TCP requests get an unsigned `rcode`; UDP queries
 * get one too, or, when `soaFrom` is set, are passed to that (real, signing) primary and its
 * answers relayed back from `at`, so the agent sees a genuine newer serial and pulls.
 */
async function impostor(at: Endpoint, rcode: number, soaFrom?: Endpoint): Promise<{ udpQueries: number; tcpRequests: number }> {
  const counts = { udpQueries: 0, tcpRequests: 0 };
  const front: Socket = createSocket('udp4');
  const back: Socket = createSocket('udp4');
  const askers = new Map<number, { port: number; address: string }>();
  front.on('message', (msg, rinfo) => {
    counts.udpQueries++;
    if (soaFrom) {
      askers.set(msg.readUInt16BE(0), { port: rinfo.port, address: rinfo.address });
      back.send(msg, soaFrom.port, soaFrom.host);
      return;
    }
    const r = errorResponse(msg, rcode);
    if (r) front.send(r, rinfo.port, rinfo.address);
  });
  back.on('message', (msg) => {
    const to = askers.get(msg.readUInt16BE(0));
    if (to) front.send(msg, to.port, to.address);
  });
  await new Promise<void>((resolve) => front.bind(at.port, at.host, () => resolve()));
  await new Promise<void>((resolve) => back.bind(0, at.host, () => resolve()));
  const conns = new Set<TcpSocket>();
  const tcp: Server = createServer((sock) => {
    conns.add(sock);
    sock.on('error', () => sock.destroy());
    sock.on('close', () => conns.delete(sock));
    readFrames(sock, (raw) => {
      counts.tcpRequests++;
      const r = errorResponse(raw, rcode);
      if (r) sock.write(frame(r));
    });
  });
  await new Promise<void>((resolve) => tcp.listen(at.port, at.host, () => resolve()));
  closers.push(async () => {
    for (const c of conns) c.destroy();
    front.close();
    back.close();
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
  });
  return counts;
}

/** An agent synced from a primary that is then closed, leaving its address free. */
async function syncedAgent(n: number): Promise<{ sec: Secondary; store: ZoneStore; primaryAt: Endpoint; first: Primary }> {
  const first = await Primary.start({ host: `127.0.34.${n}`, port: 0, keys: [KEY] });
  const store = new ZoneStore();
  const sec = await Secondary.start({ store, host: `127.0.34.${n + 100}`, port: 0, keys: [KEY], refreshMs: 200 });
  closers.push(() => sec.close());
  first.setZone(ORIGIN, hosts(ORIGIN, 5));
  first.markZonesLoaded();
  first.setAgents([{ id: 'agent', ...sec.address }]);
  await waitFor(() => sameZone(store.get(ORIGIN), first.zone(ORIGIN)), { what: 'first sync' });
  const primaryAt = first.address;
  await first.close();
  return { sec, store, primaryAt, first };
}

describe('unsigned error answers change nothing', () => {
  for (const [name, rcode] of [['REFUSED', RCODE.REFUSED], ['NOTAUTH', RCODE.NOTAUTH]] as const) {
    it(`an unsigned ${name} to the SOA check: the agent keeps serving the zone`, async () => {
      const { sec, store, primaryAt } = await syncedAgent(rcode);
      const before = store.get(ORIGIN);
      const seen = await impostor(primaryAt, rcode);
      // Today's fault ends the checks early: the first REFUSED dropped the zone.
      await waitFor(() => seen.udpQueries >= 2 || store.get(ORIGIN) === undefined, { what: 'two SOA checks answered by the impostor', timeoutMs: 10_000 });
      expect(store.get(ORIGIN)).toBe(before);
      expect(sec.zoneStates().map((z) => z.origin)).toEqual([ORIGIN]);
    });

    it(`an unsigned ${name} to the transfer: the agent keeps its data and tries again`, async () => {
      const { sec, store, primaryAt, first } = await syncedAgent(20 + rcode);
      const before = store.get(ORIGIN);
      // The real primary, elsewhere, with a newer serial: the SOA check sees it and pulls.
      const real = await Primary.start({ host: `127.0.34.${40 + rcode}`, port: 0, keys: [KEY] });
      closers.push(() => real.close());
      real.raiseSerialFloor(ORIGIN, first.serials()[ORIGIN] as number);
      real.setZone(ORIGIN, [...hosts(ORIGIN, 5), a(`new.${ORIGIN}`, '192.0.2.1')]);
      real.markZonesLoaded();
      const seen = await impostor(primaryAt, rcode, real.address);
      await waitFor(() => seen.tcpRequests >= 3 || store.get(ORIGIN) === undefined, { what: 'three transfers answered by the impostor', timeoutMs: 10_000 });
      expect(store.get(ORIGIN)).toBe(before);
      expect(sec.zoneStates().map((z) => z.origin)).toEqual([ORIGIN]);
    });
  }

  it('a REFUSED the primary signs does remove the zone (the refusals above were ignored for their signature)', async () => {
    const { sec, store, primaryAt, first } = await syncedAgent(60);
    const real = await Primary.start({ host: '127.0.34.61', port: 0, keys: [KEY] });
    closers.push(() => real.close());
    real.raiseSerialFloor(ORIGIN, first.serials()[ORIGIN] as number);
    real.markZonesLoaded(); // it serves no zone: it refuses this one, signed
    const seen = await impostor(primaryAt, RCODE.REFUSED, real.address);
    await waitFor(() => store.get(ORIGIN) === undefined, { what: 'zone removed on the signed REFUSED', timeoutMs: 10_000 });
    expect(seen.udpQueries).toBeGreaterThan(0);
    expect(sec.zoneStates()).toEqual([]);
  });
});
