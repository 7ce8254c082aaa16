/**
 * The forwarding cache's options and how its one SharedArrayBuffer is laid out for them: a
 * header of Int32 words (forward-cache.ts names them), the index (forward-index.ts), then
 * the ring of entries. Every thread that attaches the buffer computes the same layout.
 */
import { indexSlots, SLOT_WORDS } from './forward-index.js';

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

export const HEADER_BYTES = 64;

/**
 * The largest ring: entries are addressed by byte offsets kept in Int32Array slots (shared
 * between workers, read with Atomics), so the ring must stay well inside 2^31 bytes.
 */
export const MAX_RING_BYTES = 2 ** 30;

export interface CacheLayout {
  /** Index slots (a power of two). */
  readonly slots: number;
  /** Where the ring starts, bytes from the buffer's start (8-aligned). */
  readonly ringStart: number;
  /** The ring's size: the byte bound, rounded down to whole 8-byte words. */
  readonly ringBytes: number;
  /** The whole buffer. */
  readonly totalBytes: number;
}

/** Throws RangeError when the byte bound exceeds MAX_RING_BYTES. */
export function cacheLayout(opts: ForwardCacheOptions): CacheLayout {
  if (!(opts.maxBytes <= MAX_RING_BYTES)) throw new RangeError(`forwarding cache bound ${opts.maxBytes} bytes exceeds ${MAX_RING_BYTES}`);
  const slots = indexSlots(opts.maxEntries);
  const ringStart = HEADER_BYTES + ((slots * SLOT_WORDS * 4 + 7) & ~7);
  const ringBytes = Math.max(8, Math.floor(opts.maxBytes / 8) * 8);
  return { slots, ringStart, ringBytes, totalBytes: ringStart + ringBytes };
}
