/**
 * One forwarding cache for every query thread (`--workers N`): a name one worker fetched is
 * served by the others without asking the upstream again, and a thread reading the shared
 * cache while another thread writes and evicts never gets another name's bytes. Worker code
 * is the built one (dist/), as in production.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ForwardCache, type ServeOptions } from '../../src/agent/forward-cache.js';
import { WorkerPool } from '../../src/agent/workers.js';
import { rawQuery, udpExchange } from './helpers.js';
import { startUnbound, type Unbound } from './unbound.js';

const HOST = '127.0.10.6';
const UPSTREAM = '127.0.10.56';
const SCRIPT = 'dist/src/agent/worker-main.js';
const NAMES = 20;

let unbound: Unbound;
let pool: WorkerPool;
let port: number;

beforeAll(async () => {
  if (!existsSync(SCRIPT)) throw new Error(`${SCRIPT} missing: run \`make build\` (tsc) first`);
  unbound = await startUnbound({
    host: UPSTREAM,
    localZones: ['shared.test. static'],
    localData: ['shared.test. 3600 IN SOA ns h 1 3600 600 86400 60', ...Array.from({ length: NAMES }, (_, i) => `n${i}.shared.test. 300 IN A 192.0.2.${i + 1}`)],
  });
  pool = await WorkerPool.start(2, { listen: [{ host: HOST, port: 0 }], upstreams: [{ host: UPSTREAM, port: unbound.port }] }, 'warn', undefined, pathToFileURL(SCRIPT));
  port = pool.addresses[0]?.port as number;
});

afterAll(async () => {
  await pool?.stop(500);
  await unbound?.stop();
});

const upstreamQueries = async (): Promise<number> => (await unbound.stats()).get('total.num.queries') ?? 0;

describe('workers share one forwarding cache', () => {
  it('a name is fetched from the upstream once, whichever worker is asked after', async () => {
    const before = await upstreamQueries();
    for (let i = 0; i < NAMES; i++) {
      const r = await udpExchange(HOST, port, rawQuery(`n${i}.shared.test`, 1, { id: i }), 2000);
      expect(r?.subarray(r.length - 4).join('.')).toBe(`192.0.2.${i + 1}`);
    }
    expect((await upstreamQueries()) - before).toBe(NAMES);
    // Each name again from many client sockets: the kernel spreads them over both workers.
    const replies = await Promise.all(
      Array.from({ length: NAMES * 10 }, (_, k) => udpExchange(HOST, port, rawQuery(`n${k % NAMES}.shared.test`, 1, { id: k }), 2000)),
    );
    expect(replies.filter((r) => r === undefined)).toHaveLength(0);
    expect((await upstreamQueries()) - before).toBe(NAMES);
  });
});

/** The body a writer stores for key i: its index repeated, so a reader can tell whose it is. */
function bodyFor(i: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  for (let p = 0; p + 4 <= len; p += 4) b.writeUInt32BE(i, p);
  return b;
}

describe('a reader racing a writer on another thread', () => {
  it('gets the right bytes or a miss, never another entry’s', async () => {
    const opts = { maxEntries: 64, maxBytes: 16 * 1024, maxTtl: 3600, maxNegativeTtl: 60, maxStaleMs: 0 };
    const cache = new ForwardCache(opts);
    const modUrl = pathToFileURL(resolve('dist/src/agent/forward-cache.js')).href;
    // The writer puts 1,000 keys round and round into a cache far too small for them, so
    // eviction and index deletion run all the time under the reader.
    const writer = new Worker(
      `const { workerData, parentPort } = require('node:worker_threads');
       import(workerData.modUrl).then(({ ForwardCache }) => {
         const c = new ForwardCache(workerData.opts, workerData.buffer);
         const until = Date.now() + workerData.ms;
         let puts = 0;
         for (let n = 0; Date.now() < until; n++) {
           const i = n % 1000, len = 16 + (i % 7) * 24;
           const body = Buffer.alloc(len);
           for (let p = 0; p + 4 <= len; p += 4) body.writeUInt32BE(i, p);
           c.put('k' + i, { rcode: 0, truncated: false, authoritative: false, authenticData: false, body, counts: [1, 0, 0],
             answerEnd: len, authorityEnd: len, ttlOffsets: Uint32Array.of(0), ttls: Uint32Array.of(i), cacheTtl: 300, negative: false }, Date.now());
           puts++;
         }
         parentPort.postMessage(puts);
       });`,
      { eval: true, workerData: { modUrl, opts, buffer: cache.buffer, ms: 1500 } },
    );
    const done = new Promise<number>((res, rej) => {
      writer.once('message', res);
      writer.once('error', rej);
    });
    let finished = false;
    void done.then(() => (finished = true));
    const so: ServeOptions = { opt: undefined, limit: 65535, wantsAd: false, dnssecOk: false };
    const query = Buffer.alloc(12);
    let hits = 0;
    const wrong: string[] = [];
    for (let n = 0; !finished; n++) {
      const i = n % 1000;
      const out = cache.serveFresh(`k${i}`, query, 12, Date.now(), so);
      if (out !== undefined) {
        hits++;
        const len = 16 + (i % 7) * 24;
        // The TTL field (first 4 bytes) is the counted-down copy of ttls[0] = i.
        if (out.length !== 12 + len || !out.subarray(16).equals(bodyFor(i, len).subarray(4)) || out.readUInt32BE(12) !== i) wrong.push(`k${i}: ${out.subarray(12, 40).toString('hex')} (${out.length})`);
      }
      if (n % 2000 === 0) await new Promise((r) => setImmediate(r));
    }
    const puts = await done;
    expect(wrong).toEqual([]);
    expect(puts).toBeGreaterThan(1000);
    expect(hits).toBeGreaterThan(0);
    expect(cache.entries).toBeLessThanOrEqual(64);
    expect(cache.bytes).toBeLessThanOrEqual(16 * 1024);
  });
});
