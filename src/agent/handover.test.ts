import { mkdtemp, utimes, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Handover, newer, parseMarker } from './handover.js';

describe('hand-over markers', () => {
  it('orders agents by start time, then id', () => {
    expect(newer({ id: 'a', phase: 'serving', started: 2 }, { id: 'b', phase: 'serving', started: 1 })).toBe(true);
    expect(newer({ id: 'a', phase: 'serving', started: 1 }, { id: 'b', phase: 'serving', started: 1 })).toBe(false);
  });

  it('refuses malformed markers', () => {
    expect(parseMarker('{')).toBeUndefined();
    expect(parseMarker('{"id":"x","phase":"bogus","started":1}')).toBeUndefined();
    expect(parseMarker('{"id":"x","phase":"serving","started":1}')).toEqual({ id: 'x', phase: 'serving', started: 1 });
  });

  it('sees an older serving agent, a newer starting one, and forgets a dead (stale) one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dnssync-ho-'));
    const opts = { heartbeatMs: 60_000, staleMs: 1_000 };
    const a = await Handover.open(dir, opts);
    await a.announce('serving');
    // b must start on a later millisecond than a (ties fall back to the random id).
    while (Date.now() <= a.me.started) await new Promise((r) => setImmediate(r));
    const b = await Handover.open(dir, opts);
    expect((await b.olderServing())?.id).toBe(a.me.id);
    await b.announce('starting');
    expect((await a.newerIn('starting', 'serving'))?.id).toBe(b.me.id);
    expect(await a.newerIn('serving')).toBeUndefined();
    // a dies without a word: its marker stops being rewritten and goes stale.
    const old = new Date(Date.now() - 5_000);
    await utimes(join(dir, `agent-${a.me.id}.json`), old, old);
    expect(await b.olderServing()).toBeUndefined();
    expect((await readdir(dir)).filter((n) => n.includes(a.me.id))).toEqual([]);
    await a.close();
    await b.close();
    expect(await readdir(dir)).toEqual([]);
  });
});
