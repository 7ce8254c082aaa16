/**
 * `--workers N`: several query threads on one address. Each holds its own copy of the
 * zones; a change to the main thread's store must reach every worker (as a diff), and
 * readiness must say so until it has. The worker entry is the built one (dist/), as in
 * production; the test drives the pool through its main-thread API.
 */
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadZoneFile } from '../../src/agent/zone-files.js';
import { WorkerPool } from '../../src/agent/workers.js';
import { requireCurrentDist } from '../util/dist.js';
import { waitFor } from '../util/wait.js';
import { rawQuery, tcpPipeline, udpExchange, writeZone } from './helpers.js';

const HOST = '127.0.10.5';
const SCRIPT = 'dist/src/agent/worker-main.js';

const zone = (serial: number, a: string): string => `$ORIGIN w.test.
@ 60 IN SOA ns h ${serial} 3600 600 86400 30
@ 60 IN NS ns
ns 60 IN A 10.0.0.1
www 60 IN A ${a}
txt 60 IN TXT "a string" "another"
`;

let pool: WorkerPool;
let port: number;

beforeAll(async () => {
  requireCurrentDist();
  pool = await WorkerPool.start(2, { listen: [{ host: HOST, port: 0 }], upstreams: [] }, 'warn', undefined, pathToFileURL(SCRIPT));
  port = pool.addresses[0]?.port as number;
});

afterAll(async () => {
  await pool?.stop(500);
});

/** The A answers seen from many client sockets (the kernel spreads them over the workers). */
async function answersFromManySockets(n: number): Promise<Set<string>> {
  const seen = new Set<string>();
  const replies = await Promise.all(Array.from({ length: n }, (_, i) => udpExchange(HOST, port, rawQuery('www.w.test', 1, { id: i }), 1000)));
  for (const r of replies) seen.add(r === undefined ? 'none' : r.subarray(r.length - 4).join('.'));
  return seen;
}

describe('worker threads', () => {
  it('every worker serves a zone loaded into the main store, over UDP and TCP', async () => {
    pool.store.set(await loadZoneFile(await writeZone(zone(1, '10.1.1.1'))));
    await waitFor(() => pool.notReady() === undefined, { what: 'workers to apply serial 1' });
    expect(await answersFromManySockets(40)).toEqual(new Set(['10.1.1.1']));
    const tcp = await tcpPipeline(HOST, port, [rawQuery('txt.w.test', 16, { id: 7 }), rawQuery('nope.w.test', 1, { id: 8 })]);
    expect(tcp.map((m) => m.readUInt16BE(0)).sort()).toEqual([7, 8]);
  });

  it('a change reaches every worker as a diff; readiness waits for it', async () => {
    pool.store.set(await loadZoneFile(await writeZone(zone(2, '10.2.2.2'))));
    // Right after the change the workers have not confirmed serial 2 yet.
    expect(pool.notReady()).toMatch(/worker \d has not applied w\.test serial 2/);
    await waitFor(() => pool.notReady() === undefined, { what: 'workers to apply serial 2' });
    expect(await answersFromManySockets(40)).toEqual(new Set(['10.2.2.2']));
    // Applied as a diff, not by shipping the whole zone again.
    expect(pool.resyncs).toBe(0);
  });

  it('TXT data (Buffers) survives the trip to the workers', async () => {
    const r = await udpExchange(HOST, port, rawQuery('txt.w.test', 16));
    expect(r?.toString('latin1')).toContain('a string');
    expect(r?.toString('latin1')).toContain('another');
  });

  it('a zone marked expired (SOA expire) is SERVFAIL in every worker until it is served again', async () => {
    const rcodes = async (): Promise<Set<number>> => {
      const replies = await Promise.all(Array.from({ length: 40 }, (_, i) => udpExchange(HOST, port, rawQuery('www.w.test', 1, { id: i }), 1000)));
      return new Set(replies.map((r) => (r === undefined ? -1 : (r[3] as number) & 0x0f)));
    };
    pool.store.setExpired('w.test', true);
    await waitFor(async () => { const s = await rcodes(); return s.size === 1 && s.has(2); }, { what: 'every worker answering SERVFAIL' });
    pool.store.setExpired('w.test', false);
    await waitFor(async () => { const s = await rcodes(); return s.size === 1 && s.has(0); }, { what: 'every worker answering again' });
    expect(await answersFromManySockets(40)).toEqual(new Set(['10.2.2.2']));
  });
});

