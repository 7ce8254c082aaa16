import { describe, expect, it } from 'vitest';
import { ForwardCache, serveEntry, STALE_TTL } from './forward-cache.js';
import type { ScannedResponse } from './upstream-message.js';

function scanned(ttl: number | undefined, bodyLen = 16, negative = false): ScannedResponse {
  const body = Buffer.alloc(bodyLen);
  body.writeUInt32BE(ttl ?? 0, 6);
  return { rcode: negative ? 3 : 0, truncated: false, authoritative: false, body, counts: [1, 0, 0], ttlOffsets: Uint32Array.of(6), ttls: Uint32Array.of(ttl ?? 0), cacheTtl: ttl, negative };
}

const opts = { maxEntries: 3, maxBytes: 10_000, maxTtl: 3600, maxNegativeTtl: 60, maxStaleMs: 10_000 };

describe('ForwardCache', () => {
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
    const fresh = serveEntry(e, q, 20, 30_500, false, undefined);
    expect(fresh.readUInt16BE(0)).toBe(0x4242);
    expect(fresh.readUInt32BE(20 + 6)).toBe(70);
    expect(serveEntry(e, q, 20, 200_000, true, undefined).readUInt32BE(20 + 6)).toBe(STALE_TTL);
  });
});
