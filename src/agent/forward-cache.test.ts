import { describe, expect, it } from 'vitest';
import packet from 'dns-packet';
import { ForwardCache, serveEntry, STALE_TTL, type ServeOptions } from './forward-cache.js';
import { scanResponse, type ScannedResponse } from './upstream-message.js';

function scanned(ttl: number | undefined, bodyLen = 16, negative = false): ScannedResponse {
  const body = Buffer.alloc(bodyLen);
  body.writeUInt32BE(ttl ?? 0, 6);
  return {
    rcode: negative ? 3 : 0, truncated: false, authoritative: false, authenticData: false, body, counts: [1, 0, 0],
    answerEnd: bodyLen, authorityEnd: bodyLen, ttlOffsets: Uint32Array.of(6), ttls: Uint32Array.of(ttl ?? 0), cacheTtl: ttl, negative,
  };
}

const plain: ServeOptions = { opt: undefined, limit: 65535, wantsAd: false, dnssecOk: false };

const opts = { maxEntries: 3, maxBytes: 10_000, maxTtl: 3600, maxNegativeTtl: 60, maxStaleMs: 10_000 };

describe('ForwardCache', () => {
  it('refuses a byte bound its 32-bit offsets cannot address, before allocating anything', () => {
    expect(() => ForwardCache.allocate({ ...opts, maxBytes: 2 ** 31 })).toThrow(RangeError);
  });

  it('evicts the least recently used entry past the entry bound', () => {
    const c = new ForwardCache(opts);
    c.put('a', scanned(100), 0);
    c.put('b', scanned(100), 0);
    c.put('c', scanned(100), 0);
    c.get('a', 1); // a is now the most recent
    c.put('d', scanned(100), 1);
    expect(c.entries).toBe(3);
    expect(c.get('b', 2)).toBeUndefined();
    expect(c.get('a', 2)).toBeDefined();
  });

  it('gives served entries a second chance, but walks at most 16 of them per eviction', () => {
    const c = new ForwardCache({ ...opts, maxEntries: 40 });
    for (let i = 0; i < 40; i++) c.put(`k${i}`, scanned(100), 0);
    for (let i = 0; i < 40; i++) expect(c.get(`k${i}`, 1)).toBeDefined();
    c.put('new', scanned(100), 1);
    expect(c.entries).toBe(40);
    // k0..k15 were moved to the recent end with their flags cleared; k16 went.
    expect(c.get('k16', 2)).toBeUndefined();
    for (const k of ['k0', 'k15', 'k17', 'k39', 'new']) expect(c.get(k, 2), k).toBeDefined();
  });

  it('stays within its byte bound', () => {
    const c = new ForwardCache({ ...opts, maxEntries: 1000, maxBytes: 2000 });
    for (let i = 0; i < 50; i++) c.put(`k${i}`, scanned(100, 300), 0);
    expect(c.bytes).toBeLessThanOrEqual(2000);
    expect(c.entries).toBeGreaterThan(0);
  });

  it('caps TTLs, caps negative TTLs separately, and forgets entries past the stale window', () => {
    const c = new ForwardCache(opts);
    const e = c.put('x', scanned(999_999), 0);
    expect(e?.expiresAt).toBe(3600_000);
    const n = c.put('n', scanned(3000, 16, true), 0);
    expect(n?.expiresAt).toBe(60_000);
    expect(c.get('n', 60_000 + 9_999)).toBeDefined();
    expect(c.get('n', 60_000 + 10_000)).toBeUndefined();
  });

  it('does not cache what has no TTL to go by (a negative answer without SOA)', () => {
    const c = new ForwardCache(opts);
    expect(c.put('x', scanned(undefined), 0)).toBeUndefined();
    expect(c.entries).toBe(0);
  });

  it('serves TTLs counted down, or STALE_TTL when stale', () => {
    const c = new ForwardCache(opts);
    const e = c.put('x', scanned(100), 0);
    if (e === undefined) throw new Error('not cached');
    const q = Buffer.alloc(20);
    q.writeUInt16BE(0x4242, 0);
    const fresh = serveEntry(e, q, 20, 30_500, false, plain);
    expect(fresh.readUInt16BE(0)).toBe(0x4242);
    expect(fresh.readUInt32BE(20 + 6)).toBe(70);
    expect(serveEntry(e, q, 20, 200_000, true, plain).readUInt32BE(20 + 6)).toBe(STALE_TTL);
  });
});

/** An upstream answer: 4 answer records, 2 NS in authority, 8 glue A records, AD set. */
const question = { name: 'big.example', type: 'A' as const, class: 'IN' as const };
const questionEnd = 12 + 'big.example'.length + 2 + 4;
const upstream = packet.encode({
  type: 'response', id: 7, flags: 0x01a0, questions: [question],
  answers: Array.from({ length: 4 }, (_, i) => ({ name: 'big.example', type: 'A' as const, ttl: 300, data: `192.0.2.${i + 1}` })),
  authorities: [1, 2].map((i) => ({ name: 'big.example', type: 'NS' as const, ttl: 300, data: `ns${i}.big.example` })),
  additionals: Array.from({ length: 8 }, (_, i) => ({ name: `ns${(i % 2) + 1}.big.example`, type: 'A' as const, ttl: 300, data: `198.51.100.${i + 1}` })),
});
const clientQuery = packet.encode({ type: 'query', id: 0x4343, flags: 0x0100, questions: [{ ...question, name: 'BIG.example' }] });

interface Served {
  readonly answers: number;
  readonly authorities: number;
  readonly additionals: number;
  readonly flag_tc: boolean;
  readonly flag_ad: boolean;
  readonly qname: string | undefined;
  readonly firstTtl: number | undefined;
}

function serve(so: Partial<ServeOptions>, negative = false): Served {
  const r = scanResponse(upstream, questionEnd);
  const c = new ForwardCache(opts);
  const e = c.put('k', negative ? { ...r, negative: true } : r, 0);
  if (e === undefined) throw new Error('not cached');
  const p = packet.decode(serveEntry(e, clientQuery, questionEnd, 1000, false, { ...plain, ...so }));
  const first = p.answers?.[0];
  return {
    answers: p.answers?.length ?? 0,
    authorities: p.authorities?.length ?? 0,
    additionals: p.additionals?.length ?? 0,
    flag_tc: ((p.flags ?? 0) & 0x0200) !== 0,
    flag_ad: ((p.flags ?? 0) & 0x0020) !== 0,
    qname: p.questions?.[0]?.name,
    firstTtl: first !== undefined && 'ttl' in first ? first.ttl : undefined,
  };
}

describe('serveEntry: fitting the client buffer (RFC 2181 9)', () => {
  // dns-packet does not compress: A records 13 + 10 + 4, NS 13 + 10 + 17, glue 17 + 10 + 4.
  const full = upstream.length;
  const noAdditional = full - 8 * 31;
  const answerOnly = noAdditional - 2 * 40;

  it('serves everything when it fits, echoing the question case and counting TTLs down', () => {
    const p = serve({ limit: full });
    expect([p.answers, p.authorities, p.additionals]).toEqual([4, 2, 8]);
    expect(p.qname).toBe('BIG.example');
    expect(p.firstTtl).toBe(299);
    expect(p.flag_tc).toBe(false);
  });

  it('leaves out the additional section, then the authority section, without TC', () => {
    const a = serve({ limit: full - 1 });
    expect([a.answers, a.authorities, a.additionals, a.flag_tc]).toEqual([4, 2, 0, false]);
    const b = serve({ limit: noAdditional - 1 });
    expect([b.answers, b.authorities, b.additionals, b.flag_tc]).toEqual([4, 0, 0, false]);
    expect(b.firstTtl).toBe(299);
    expect(serve({ limit: answerOnly - 1 }).flag_tc).toBe(true);
  });

  it('keeps the authority section for DO clients and for negative answers: TC instead', () => {
    for (const p of [serve({ limit: noAdditional - 1, dnssecOk: true }), serve({ limit: noAdditional - 1 }, true)]) {
      expect(p.flag_tc).toBe(true);
      expect([p.answers, p.authorities, p.additionals]).toEqual([0, 0, 0]);
      expect(p.qname).toBe('BIG.example');
    }
  });

  it('sets TC with no records when even the answer section does not fit', () => {
    const p = serve({ limit: 40 });
    expect(p.flag_tc).toBe(true);
    expect(p.answers).toBe(0);
  });

  it("shows the upstream's AD bit only to clients that asked (DO or AD)", () => {
    expect(serve({}).flag_ad).toBe(false);
    expect(serve({ wantsAd: true }).flag_ad).toBe(true);
  });
});

describe('ForwardCache in shared memory', () => {
  it('a second cache on the same buffer sees what the first stored, and counts it once', () => {
    const a = new ForwardCache(opts);
    const b = new ForwardCache(opts, a.buffer);
    a.put('x', scanned(100), 0);
    expect(b.get('x', 1)?.expiresAt).toBe(100_000);
    expect([a.entries, b.entries]).toEqual([1, 1]);
    expect(() => new ForwardCache({ ...opts, maxBytes: 20_000 }, a.buffer)).toThrow(RangeError);
  });

  it('keeps every key on its own bytes through churn, index deletions and ring wrap-around', () => {
    // Small bounds so that eviction, second chances, replacement and wrap-around all run;
    // a collision-heavy index (8 slots per 4 entries) exercises the backward-shift deletion.
    const c = new ForwardCache({ ...opts, maxEntries: 4, maxBytes: 1200 });
    let seed = 7;
    const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed % n);
    const lengths = new Map<string, number>();
    for (let step = 0; step < 5000; step++) {
      const k = `key${rnd(12)}`;
      if (rnd(3) === 0) {
        const e = c.get(k, step);
        if (e !== undefined) {
          expect(e.body.length, k).toBe(lengths.get(k));
          expect(e.body.readUInt32BE(0), k).toBe(Number(k.slice(3)));
        }
        continue;
      }
      const len = 16 + rnd(200);
      const r = scanned(100, len);
      r.body.writeUInt32BE(Number(k.slice(3)), 0);
      c.put(k, r, step);
      lengths.set(k, len);
      expect(c.get(k, step)?.body.length, `${k} just stored`).toBe(len);
      expect(c.entries).toBeLessThanOrEqual(4);
      expect(c.bytes).toBeLessThanOrEqual(1200);
    }
    let found = 0;
    for (let i = 0; i < 12; i++) if (c.get(`key${i}`, 5000) !== undefined) found++;
    expect(found).toBe(c.entries);
  });
});
