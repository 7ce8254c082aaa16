/**
 * The forwarding cache: upstream answers kept as bytes, bounded in entries and in bytes,
 * least recently used first out (second-chance approximation). An entry outlives its TTL by
 * the max-stale window so that it can be served stale (RFC 8767) when every upstream fails;
 * past that it is gone.
 *
 * It lives in one SharedArrayBuffer, not in JS objects, for two reasons measured with
 * `make bench-query`:
 * - Memory. As objects (entry, two Uint32Arrays with their ArrayBuffers, a Buffer view of the
 *   body, the counts array, three heap numbers) an entry cost ~850 bytes of heap: 100,000
 *   forwarded names took the agent from 61 to 190 MB RSS. Here an entry is its bytes — a
 *   48-byte header, the key, the TTL offsets and the body, ~100 bytes for an A answer — and
 *   the GC has nothing to trace, so a large cache adds nothing to a full collection's pause.
 * - Workers. With `--workers N` every query thread attaches the same buffer: a name fetched
 *   by one is served by all, so N workers neither ask the upstream N times per name nor keep
 *   N copies.
 *
 * Layout: a small header of Int32 words (lock, ring head/tail/span, counts), an open-addressing
 * index (linear probing, backward-shift deletion, slots of hash/offset/stamp), and a ring of
 * entries in insertion order. Writers (put, delete, eviction) and readers take one spin lock
 * in the header: critical sections are a copy of ~100 bytes, and an earlier lock-free reader
 * (stamp checked before and after the copy) served torn bytes under a racing writer. Every
 * entry still carries a stamp, unique per write, that its index slot repeats.
 */
import type { ScannedResponse } from './upstream-message.js';
import { cacheLayout, HEADER_BYTES, type ForwardCacheOptions } from './forward-cache-layout.js';
import { hashKey, indexInsert, indexRemove, SLOT_WORDS } from './forward-index.js';
import { lockWord, unlockWord } from './spin-lock.js';
import { entryOf, fitLength, servedHeader, type CacheEntry, type ServeOptions } from './forward-entry.js';

export { entryOf, fitBody, serveEntry, STALE_TTL, type CacheEntry, type ServeOptions } from './forward-entry.js';

/** Entries moved to the recent end per eviction before the oldest goes regardless. */
const SECOND_CHANCES = 16;

// Header words.
const H_LOCK = 0;
const H_HEAD = 1;
const H_TAIL = 2;
/** Bytes from tail to head, dead entries and wrap padding included. */
const H_SPAN = 3;
const H_COUNT = 4;
const H_STAMP = 5;
/** Bytes of live entries. */
const H_LIVE = 6;

// Entry header, in 32-bit words from the entry's offset (8-aligned). A DNS message is at
// most 65,535 bytes, so counts and section ends fit 16 bits.
const E_STAMP = 0; // 0: dead; PAD: wrap padding to the ring's end
const E_LEN = 1; // whole entry, bytes, a multiple of 8
const E_HASH = 2;
const E_REF = 3; // served since written or last passed over (second chance)
const E_FLAGS_AR = 4; // rcode | AD << 8 | negative << 9 | additional count << 16
const E_KEYLEN_NTTL = 5; // key length | TTL count << 16
const E_AN_NS = 6; // answer count | authority count << 16
const E_ENDS = 7; // answerEnd | authorityEnd << 16
const E_BODY_LEN = 8;
const E_TTL = 9; // seconds the entry is fresh: expiresAt = storedAt + TTL s
const E_STORED = 10; // Float64 (words 10-11), ms
const ENTRY_HEADER = 48;
const PAD = -1;

const align = (n: number, a: number): number => (n + a - 1) & ~(a - 1);

export class ForwardCache {
  /** The memory this cache lives in; give it to other threads' caches to share it. */
  readonly buffer: SharedArrayBuffer;
  private readonly h: Int32Array;
  private readonly index: Int32Array;
  private readonly mask: number;
  private readonly a32: Int32Array;
  private readonly f64: Float64Array;
  private readonly ring: Buffer;
  private readonly cap: number;
  /** Stamp of the entry the last find() returned. */
  private found = 0;

  /** `buffer`: one from ForwardCache.allocate(opts) (or another cache's), to share it. */
  constructor(
    private readonly opts: ForwardCacheOptions,
    buffer?: SharedArrayBuffer,
  ) {
    const { slots, ringStart, ringBytes, totalBytes } = cacheLayout(opts);
    this.buffer = buffer ?? new SharedArrayBuffer(totalBytes);
    this.cap = this.buffer.byteLength - ringStart;
    if (this.cap !== ringBytes) throw new RangeError('forwarding cache buffer does not match its options');
    this.h = new Int32Array(this.buffer, 0, HEADER_BYTES / 4);
    this.index = new Int32Array(this.buffer, HEADER_BYTES, slots * SLOT_WORDS);
    this.mask = slots - 1;
    this.a32 = new Int32Array(this.buffer, ringStart, this.cap / 4);
    this.f64 = new Float64Array(this.buffer, ringStart, this.cap / 8);
    this.ring = Buffer.from(this.buffer, ringStart, this.cap);
  }

  /** Zeroed memory for a cache with these options (pages are only resident once written). */
  static allocate(opts: ForwardCacheOptions): SharedArrayBuffer {
    return new SharedArrayBuffer(cacheLayout(opts).totalBytes);
  }

  get entries(): number {
    return Atomics.load(this.h, H_COUNT);
  }

  get bytes(): number {
    return Atomics.load(this.h, H_LIVE);
  }

  /**
   * The response for a fresh entry of `key` (see serveEntry), marked as used; undefined
   * when there is none, it has expired, or a writer replaced it while it was being copied.
   * The hot path: no object but the response is allocated.
   */
  serveFresh(key: string, query: Buffer, questionEnd: number, now: number, o: ServeOptions): Buffer | undefined {
    // Readers take the writers' lock too: the stamp checks alone let a reader racing a writer
    // on another thread serve torn bytes (test/agent/shared-forward-cache.test.ts caught a
    // TTL written one byte off in a full-suite run). Uncontended it is one CAS and one exchange.
    lockWord(this.h, H_LOCK); // not locked(fn): no closure allocated per hit
    try {
      return this.serveFreshUnlocked(key, query, questionEnd, now, o);
    } finally {
      unlockWord(this.h, H_LOCK);
    }
  }

  private serveFreshUnlocked(key: string, query: Buffer, questionEnd: number, now: number, o: ServeOptions): Buffer | undefined {
    const off = this.find(key);
    if (off < 0) return undefined;
    const stamp = this.found;
    const w = off >> 2;
    if (now >= (this.f64[(w + E_STORED) >> 1] as number) + (this.a32[w + E_TTL] as number) * 1000) return undefined;
    let out;
    try {
      out = this.serve(off, query, questionEnd, now, o);
    } catch {
      // Bytes torn by a writer that reused the space mid-copy; the stamp check below would
      // reject them too. A miss.
      return undefined;
    }
    if (out === undefined || Atomics.load(this.a32, w + E_STAMP) !== stamp) return undefined;
    this.a32[w + E_REF] = 1;
    return out;
  }

  /** A copy of the entry, fresh or stale, marked as used; undefined if absent or too old (past max-stale). */
  get(key: string, now: number): CacheEntry | undefined {
    let out: CacheEntry | undefined;
    this.locked(() => {
      // Under the lock no writer runs, so what find() saw is what copy() reads.
      const off = this.find(key);
      if (off < 0) return;
      const e = this.copy(off);
      if (now >= e.staleUntil) {
        this.kill(off);
        return;
      }
      this.a32[(off >> 2) + E_REF] = 1;
      out = e;
    });
    return out;
  }

  /** Stores a scanned response; returns a copy of the entry, or undefined when it may not be cached. */
  put(key: string, r: ScannedResponse, now: number): CacheEntry | undefined {
    if (r.cacheTtl === undefined) return undefined;
    const ttl = Math.min(r.cacheTtl, r.negative ? this.opts.maxNegativeTtl : this.opts.maxTtl);
    const ttls = ttl < r.cacheTtl ? r.ttls.map((t) => Math.min(t, ttl)) : r.ttls;
    const expiresAt = now + ttl * 1000;
    const n = r.ttlOffsets.length;
    const len = align(ENTRY_HEADER + align(key.length, 4) + 8 * n + r.body.length, 8);
    const entry = entryOf(r, ttls, now, expiresAt, expiresAt + this.opts.maxStaleMs, len);
    if (len > this.cap || key.length > 0xffff || n > 0xffff || r.body.length > 0xffff) return entry;
    this.locked(() => {
      const old = this.find(key);
      if (old >= 0) this.kill(old);
      const off = this.reserve(len, true);
      this.write(off, len, key, entry);
    });
    return entry;
  }

  clear(): void {
    this.locked(() => {
      this.index.fill(0);
      for (const w of [H_HEAD, H_TAIL, H_SPAN, H_COUNT, H_LIVE]) Atomics.store(this.h, w, 0);
      // Every entry stamp in the ring is now unreachable; bump the counter past them anyway.
      Atomics.add(this.h, H_STAMP, 1);
    });
  }

  /** Offset of the live entry for `key` (its stamp in this.found), or -1. Takes no lock. */
  private find(key: string): number {
    const hash = hashKey(key);
    const index = this.index;
    let i = hash & this.mask;
    for (let n = 0; n <= this.mask; n++, i = (i + 1) & this.mask) {
      const s = i * SLOT_WORDS;
      const sh = index[s] as number;
      if (sh === 0) return -1;
      if (sh !== hash) continue;
      const off = index[s + 1] as number;
      const stamp = index[s + 2] as number;
      if (off < 0 || off >= this.cap || (off & 7) !== 0) continue;
      const w = off >> 2;
      if (stamp <= 0 || Atomics.load(this.a32, w + E_STAMP) !== stamp) continue;
      if (!this.keyIs(off, key)) continue;
      this.found = stamp;
      return off;
    }
    return -1;
  }

  private keyIs(off: number, key: string): boolean {
    const keyLen = (this.a32[(off >> 2) + E_KEYLEN_NTTL] as number) & 0xffff;
    if (keyLen !== key.length) return false;
    const ring = this.ring;
    const k = off + ENTRY_HEADER;
    for (let i = 0; i < keyLen; i++) if (ring[k + i] !== key.charCodeAt(i)) return false;
    return true;
  }

  /**
   * Builds a response from the entry at `off` as serveEntry does. The caller checks the
   * stamp after: a writer may reuse the space meanwhile, so every length read here is
   * checked against the ring before use (undefined: torn).
   */
  private serve(off: number, query: Buffer, questionEnd: number, now: number, o: ServeOptions): Buffer | undefined {
    const a = this.a32;
    const w = off >> 2;
    const keyLenN = a[w + E_KEYLEN_NTTL] as number;
    const n = keyLenN >>> 16;
    const ttlAt = off + ENTRY_HEADER + align(keyLenN & 0xffff, 4);
    const bodyAt = ttlAt + 8 * n;
    const bodyLength = a[w + E_BODY_LEN] as number;
    if (bodyLength < 0 || bodyAt + bodyLength > this.cap) return undefined;
    const flags = a[w + E_FLAGS_AR] as number;
    const negative = (flags & 0x200) !== 0;
    const ends = a[w + E_ENDS] as number;
    const answerEnd = ends & 0xffff;
    const authorityEnd = ends >>> 16;
    const optLen = o.opt?.length ?? 0;
    const cut = fitLength(bodyLength, answerEnd, authorityEnd, negative, o.limit - questionEnd - optLen, o.dnssecOk);
    const bodyLen = cut < 0 ? 0 : cut;
    const out = Buffer.allocUnsafe(questionEnd + bodyLen + optLen);
    query.copy(out, 0, 0, questionEnd);
    const anNs = a[w + E_AN_NS] as number;
    servedHeader(out, query, cut, o.wantsAd && (flags & 0x100) !== 0, flags, anNs & 0xffff, anNs >>> 16, flags >>> 16, answerEnd, bodyLength, o.opt !== undefined);
    if (bodyLen > 0) {
      this.ring.copy(out, questionEnd, bodyAt, bodyAt + bodyLen);
      // Another thread may have stored it after this one read the clock: never count up.
      const elapsed = Math.max(0, Math.floor((now - (this.f64[(w + E_STORED) >> 1] as number)) / 1000));
      const t = ttlAt >> 2;
      for (let i = 0; i < n; i++) {
        const at = a[t + i] as number;
        if (at < 0 || at + 4 > bodyLen) break;
        const ttl = (a[t + n + i] as number) - elapsed;
        out.writeUInt32BE(ttl > 0 ? ttl >>> 0 : 0, questionEnd + at);
      }
    }
    if (o.opt !== undefined) o.opt.copy(out, questionEnd + bodyLen);
    return out;
  }

  /** The entry at `off` as a CacheEntry with its own copies of the bytes. */
  private copy(off: number): CacheEntry {
    const a = this.a32;
    const w = off >> 2;
    const keyLenN = a[w + E_KEYLEN_NTTL] as number;
    const n = keyLenN >>> 16;
    const ttlAt = off + ENTRY_HEADER + align(keyLenN & 0xffff, 4);
    const bodyAt = ttlAt + 8 * n;
    const bodyLen = a[w + E_BODY_LEN] as number;
    const flags = a[w + E_FLAGS_AR] as number;
    const anNs = a[w + E_AN_NS] as number;
    const ends = a[w + E_ENDS] as number;
    const storedAt = this.f64[(w + E_STORED) >> 1] as number;
    const expiresAt = storedAt + (a[w + E_TTL] as number) * 1000;
    const t = ttlAt >> 2;
    return {
      rcode: flags & 0xff,
      body: Buffer.from(this.ring.subarray(bodyAt, Math.min(this.cap, bodyAt + bodyLen))),
      counts: [anNs & 0xffff, anNs >>> 16, flags >>> 16],
      answerEnd: ends & 0xffff,
      authorityEnd: ends >>> 16,
      authenticData: (flags & 0x100) !== 0,
      ttlOffsets: new Uint32Array(a.slice(t, t + n).buffer),
      ttls: new Uint32Array(a.slice(t + n, t + 2 * n).buffer),
      storedAt,
      expiresAt,
      staleUntil: expiresAt + this.opts.maxStaleMs,
      negative: (flags & 0x200) !== 0,
      bytes: a[w + E_LEN] as number,
      referenced: false,
    };
  }

  /** Runs `fn` holding the cache's lock (src/agent/spin-lock.ts). */
  private locked(fn: () => void): void {
    lockWord(this.h, H_LOCK);
    try {
      fn();
    } finally {
      unlockWord(this.h, H_LOCK);
    }
  }

  /**
   * Makes room for `len` bytes at the head and returns where (the head moves past it).
   * Second-chance (CLOCK) eviction, an LRU approximation: from the oldest end, an entry
   * served since it was last here is written again at the recent end with its flag cleared;
   * the first one not served goes. At most SECOND_CHANCES moves per call, so one put never
   * walks a whole large cache; past that the oldest goes whatever its flag. Lock held.
   */
  private reserve(len: number, chances: boolean): number {
    const h = this.h;
    let left = chances ? SECOND_CHANCES : 0;
    for (;;) {
      if (h[H_SPAN] === 0) {
        h[H_HEAD] = 0;
        h[H_TAIL] = 0;
      }
      const head = h[H_HEAD] as number;
      const pad = head + len <= this.cap ? 0 : this.cap - head;
      if (this.cap - (h[H_SPAN] as number) >= pad + len && (h[H_COUNT] as number) < this.opts.maxEntries) {
        if (pad > 0) {
          this.a32[(head >> 2) + E_LEN] = pad;
          Atomics.store(this.a32, (head >> 2) + E_STAMP, PAD);
          h[H_SPAN] = (h[H_SPAN] as number) + pad;
        }
        const at = pad > 0 ? 0 : head;
        h[H_HEAD] = at + len === this.cap ? 0 : at + len;
        h[H_SPAN] = (h[H_SPAN] as number) + len;
        return at;
      }
      const tail = h[H_TAIL] as number;
      const w = tail >> 2;
      const stamp = this.a32[w + E_STAMP] as number;
      const tlen = this.a32[w + E_LEN] as number;
      if (stamp > 0 && this.a32[w + E_REF] === 1 && left-- > 0) {
        // Moved, not dropped: copied out, freed, written again at the head.
        const bytes = Buffer.from(this.ring.subarray(tail, tail + tlen));
        bytes.writeInt32LE(0, E_STAMP * 4); // no stamp until link() gives it a new one
        const hash = this.a32[w + E_HASH] as number;
        this.kill(tail);
        this.advanceTail();
        const at = this.reserve(tlen, false);
        bytes.copy(this.ring, at);
        this.a32[(at >> 2) + E_REF] = 0;
        this.link(at, tlen, hash);
        continue;
      }
      if (stamp > 0) this.kill(tail);
      this.advanceTail();
    }
  }

  /** Drops the (dead or padding) entry at the tail. Lock held. */
  private advanceTail(): void {
    const h = this.h;
    const tail = h[H_TAIL] as number;
    const tlen = this.a32[(tail >> 2) + E_LEN] as number;
    const next = tail + tlen;
    h[H_TAIL] = next >= this.cap ? 0 : next;
    h[H_SPAN] = (h[H_SPAN] as number) - tlen;
  }

  /** Writes an entry at `off` (reserved) and indexes it. Lock held. */
  private write(off: number, len: number, key: string, e: CacheEntry): void {
    const a = this.a32;
    const w = off >> 2;
    const n = e.ttlOffsets.length;
    Atomics.store(a, w + E_STAMP, 0);
    a[w + E_LEN] = len;
    a[w + E_REF] = 0;
    a[w + E_FLAGS_AR] = (e.rcode & 0xff) | (e.authenticData ? 0x100 : 0) | (e.negative ? 0x200 : 0) | ((e.counts[2] & 0xffff) << 16);
    a[w + E_KEYLEN_NTTL] = key.length | (n << 16);
    a[w + E_AN_NS] = (e.counts[0] & 0xffff) | ((e.counts[1] & 0xffff) << 16);
    a[w + E_ENDS] = (e.answerEnd & 0xffff) | ((e.authorityEnd & 0xffff) << 16);
    a[w + E_BODY_LEN] = e.body.length;
    a[w + E_TTL] = Math.round((e.expiresAt - e.storedAt) / 1000);
    this.f64[(w + E_STORED) >> 1] = e.storedAt;
    const k = off + ENTRY_HEADER;
    this.ring.write(key, k, 'latin1');
    const ttlAt = k + align(key.length, 4);
    const t = ttlAt >> 2;
    for (let i = 0; i < n; i++) {
      a[t + i] = e.ttlOffsets[i] as number;
      a[t + n + i] = e.ttls[i] as number;
    }
    e.body.copy(this.ring, ttlAt + 8 * n);
    this.link(off, len, hashKey(key));
  }

  /** Gives the entry at `off` a new stamp and puts it in the index. Lock held. */
  private link(off: number, len: number, hash: number): void {
    const h = this.h;
    const w = off >> 2;
    let stamp = Atomics.add(h, H_STAMP, 1) + 1;
    if (stamp <= 0 || stamp === PAD) {
      // After 2^31 writes: start again at 1 (an entry that old was overwritten long ago).
      Atomics.store(h, H_STAMP, 1);
      stamp = 1;
    }
    this.a32[w + E_HASH] = hash;
    Atomics.store(this.a32, w + E_STAMP, stamp);
    indexInsert(this.index, this.mask, hash, off, stamp);
    h[H_COUNT] = (h[H_COUNT] as number) + 1;
    h[H_LIVE] = (h[H_LIVE] as number) + len;
  }

  /**
   * Marks the live entry at `off` dead and takes it out of the index; its bytes stay until
   * the tail passes them. Lock held.
   */
  private kill(off: number): void {
    const h = this.h;
    const a = this.a32;
    const w = off >> 2;
    const stamp = a[w + E_STAMP] as number;
    const hash = a[w + E_HASH] as number;
    Atomics.store(a, w + E_STAMP, 0);
    h[H_COUNT] = (h[H_COUNT] as number) - 1;
    h[H_LIVE] = (h[H_LIVE] as number) - (a[w + E_LEN] as number);
    indexRemove(this.index, this.mask, hash, off, stamp);
  }
}
