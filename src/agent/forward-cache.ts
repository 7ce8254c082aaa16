/**
 * The forwarding cache: upstream answers kept as bytes, bounded in entries and in bytes,
 * least recently used first out. An entry outlives its TTL by the max-stale window so that
 * it can be served stale (RFC 8767) when every upstream fails; past that it is gone.
 */
import type { ScannedResponse } from './upstream-message.js';

export interface CacheEntry {
  readonly rcode: number;
  readonly body: Buffer;
  readonly counts: readonly [number, number, number];
  readonly ttlOffsets: Uint32Array;
  readonly ttls: Uint32Array;
  /** ms timestamps */
  readonly storedAt: number;
  readonly expiresAt: number;
  readonly staleUntil: number;
  readonly negative: boolean;
  /** Accounted size: body plus a fixed overhead for the key and bookkeeping. */
  readonly bytes: number;
}

export interface ForwardCacheOptions {
  readonly maxEntries: number;
  readonly maxBytes: number;
  /** Longest TTL honoured, seconds. */
  readonly maxTtl: number;
  /** Longest negative TTL honoured, seconds (RFC 2308 suggests 1–3 hours at most). */
  readonly maxNegativeTtl: number;
  /** How long past expiry an entry may still be served stale, ms; 0 disables serve-stale. */
  readonly maxStaleMs: number;
}

const ENTRY_OVERHEAD = 200;

export class ForwardCache {
  private readonly map = new Map<string, CacheEntry>();
  private bytesUsed = 0;
  hits = 0;
  misses = 0;

  constructor(private readonly opts: ForwardCacheOptions) {}

  get entries(): number {
    return this.map.size;
  }

  get bytes(): number {
    return this.bytesUsed;
  }

  /** The entry, fresh or stale, refreshed in LRU order; undefined if absent or too old. */
  get(key: string, now: number): CacheEntry | undefined {
    const e = this.map.get(key);
    if (e === undefined) return undefined;
    if (now >= e.staleUntil) {
      this.delete(key, e);
      return undefined;
    }
    // Move to the most-recent end.
    this.map.delete(key);
    this.map.set(key, e);
    return e;
  }

  /** Stores a scanned response; returns the entry, or undefined when it may not be cached. */
  put(key: string, r: ScannedResponse, now: number): CacheEntry | undefined {
    if (r.cacheTtl === undefined) return undefined;
    const ttl = Math.min(r.cacheTtl, r.negative ? this.opts.maxNegativeTtl : this.opts.maxTtl);
    const ttls = ttl < r.cacheTtl ? r.ttls.map((t) => Math.min(t, ttl)) : r.ttls;
    const expiresAt = now + ttl * 1000;
    const entry: CacheEntry = {
      rcode: r.rcode,
      body: r.body,
      counts: r.counts,
      ttlOffsets: r.ttlOffsets,
      ttls,
      storedAt: now,
      expiresAt,
      staleUntil: expiresAt + this.opts.maxStaleMs,
      negative: r.negative,
      bytes: r.body.length + key.length + ENTRY_OVERHEAD,
    };
    if (entry.bytes > this.opts.maxBytes) return entry;
    const old = this.map.get(key);
    if (old !== undefined) this.delete(key, old);
    this.map.set(key, entry);
    this.bytesUsed += entry.bytes;
    this.evict();
    return entry;
  }

  clear(): void {
    this.map.clear();
    this.bytesUsed = 0;
  }

  private evict(): void {
    while (this.map.size > this.opts.maxEntries || this.bytesUsed > this.opts.maxBytes) {
      const oldest = this.map.entries().next();
      if (oldest.done === true) return;
      this.delete(oldest.value[0], oldest.value[1]);
    }
  }

  private delete(key: string, e: CacheEntry): void {
    this.map.delete(key);
    this.bytesUsed -= e.bytes;
  }
}

/** TTL served with stale data (RFC 8767 4: 30 seconds is recommended). */
export const STALE_TTL = 30;

/**
 * A response for the client from a cache entry: the client's header and question in front of
 * the cached body, each TTL counted down by the seconds since it was stored (or STALE_TTL
 * when stale), the client's OPT behind it.
 */
export function serveEntry(
  e: CacheEntry,
  query: Buffer,
  questionEnd: number,
  now: number,
  stale: boolean,
  opt: Buffer | undefined,
): Buffer {
  const bodyAt = questionEnd;
  const out = Buffer.allocUnsafe(questionEnd + e.body.length + (opt?.length ?? 0));
  query.copy(out, 0, 0, questionEnd);
  e.body.copy(out, bodyAt);
  out[2] = 0x80 | ((query[2] as number) & 0x79);
  out[3] = 0x80 | ((query[3] as number) & 0x10) | (e.rcode & 0x0f);
  out.writeUInt16BE(e.counts[0], 6);
  out.writeUInt16BE(e.counts[1], 8);
  out.writeUInt16BE(e.counts[2] + (opt === undefined ? 0 : 1), 10);
  const elapsed = Math.floor((now - e.storedAt) / 1000);
  for (let i = 0; i < e.ttlOffsets.length; i++) {
    const orig = e.ttls[i] as number;
    const t = stale ? STALE_TTL : Math.max(0, orig - elapsed);
    out.writeUInt32BE(t, bodyAt + (e.ttlOffsets[i] as number));
  }
  if (opt !== undefined) opt.copy(out, bodyAt + e.body.length);
  return out;
}
