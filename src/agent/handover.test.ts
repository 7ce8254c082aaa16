import { mkdtemp, utimes, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Handover, netnsScope, newer, parseMarker } from './handover.js';

describe('hand-over markers', () => {
  it('orders agents by start time, then id', () => {
    expect(newer({ id: 'a', phase: 'serving', started: 2 }, { id: 'b', phase: 'serving', started: 1 })).toBe(true);
    expect(newer({ id: 'a', phase: 'serving', started: 1 }, { id: 'b', phase: 'serving', started: 1 })).toBe(false);
  });

  it('refuses malformed markers', () => {
    expect(parseMarker('{')).toBeUndefined();
    expect(parseMarker('{"id":"x","phase":"bogus","started":1}')).toBeUndefined();
    expect(parseMarker('{"id":"x","phase":"serving","started":1}')).toEqual({ id: 'x', phase: 'serving', started: 1 });
    // Where the agent offers its DNS sockets (socket-source.ts); anything but a path is dropped.
    expect(parseMarker('{"id":"x","phase":"serving","started":1,"sockets":"/run/dnssync/s.sock"}')).toEqual({ id: 'x', phase: 'serving', started: 1, sockets: '/run/dnssync/s.sock' });
    expect(parseMarker('{"id":"x","phase":"serving","started":1,"sockets":7}')).toEqual({ id: 'x', phase: 'serving', started: 1 });
  });

  it('sees an older serving agent, a newer starting one, and forgets a dead (stale) one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dnssync-ho-'));
    const opts = { heartbeatMs: 60_000, staleMs: 1_000 };
    const a = await Handover.open(dir, opts, 'net-1');
    await a.announce('serving');
    // b must start on a later millisecond than a (ties fall back to the random id).
    while (Date.now() <= a.me.started) await new Promise((r) => setImmediate(r));
    const b = await Handover.open(dir, opts, 'net-1');
    expect((await b.olderServing())?.id).toBe(a.me.id);
    await b.announce('starting');
    expect((await a.newerIn('starting', 'serving'))?.id).toBe(b.me.id);
    expect(await a.newerIn('serving')).toBeUndefined();
    // a dies without a word: its marker stops being rewritten and goes stale.
    const old = new Date(Date.now() - 5_000);
    await utimes(join(dir, 'net-1', `agent-${a.me.id}.json`), old, old);
    expect(await b.olderServing()).toBeUndefined();
    expect((await readdir(join(dir, 'net-1'))).filter((n) => n.includes(a.me.id))).toEqual([]);
    await a.close();
    await b.close();
    expect(await readdir(join(dir, 'net-1'))).toEqual([]);
  });

  // Seen on the two-node e2e cluster, whose nodes share the host's /run: the n2 agent's
  // restart wrote a newer marker, the n1 agent took it for its successor and left its DNS
  // sockets (n1 timed out while n2 restarted).
  it('never hands over across network namespaces (agents of other nodes sharing the directory)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dnssync-ho-'));
    const opts = { heartbeatMs: 60_000, staleMs: 10_000 };
    const n1 = await Handover.open(dir, opts, 'net-1');
    await n1.announce('serving');
    while (Date.now() <= n1.me.started) await new Promise((r) => setImmediate(r));
    const n2 = await Handover.open(dir, opts, 'net-2');
    await n2.announce('serving');
    expect(await n1.newerIn('starting', 'serving')).toBeUndefined();
    expect(await n2.olderServing()).toBeUndefined();
    // Within one namespace the hand-over still happens.
    const n1b = await Handover.open(dir, opts, 'net-1');
    expect((await n1b.olderServing())?.id).toBe(n1.me.id);
    await n1b.announce('starting');
    expect((await n1.newerIn('starting'))?.id).toBe(n1b.me.id);
    await Promise.all([n1.close(), n2.close(), n1b.close()]);
  });

  it("defaults its scope to this process's network namespace", async () => {
    expect(await netnsScope()).toMatch(/^net-(\d+|unknown)$/);
  });

  it('leaves no marker behind when closed during a heartbeat write', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dnssync-ho-'));
    const h = await Handover.open(dir, { heartbeatMs: 1, staleMs: 10_000 }, 'net-1');
    await h.announce('serving');
    for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
    await h.close();
    expect(await readdir(join(dir, 'net-1'))).toEqual([]);
  });
});
