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
  /** Section starts within `body` (see ScannedResponse). */
  readonly answerEnd: number;
  readonly authorityEnd: number;
  /** The upstream's AD bit, shown only to clients that ask (see serveEntry). */
  readonly authenticData: boolean;
  readonly ttlOffsets: Uint32Array;
  readonly ttls: Uint32Array;
  /** ms timestamps */
  readonly storedAt: number;
  readonly expiresAt: number;
  readonly staleUntil: number;
  readonly negative: boolean;
  /** Accounted size: body plus a fixed overhead for the key and bookkeeping. */
  readonly bytes: number;
  /** Served since it was stored or last passed over for eviction (see ForwardCache.evict). */
  referenced: boolean;
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
/** Entries moved to the recent end per eviction before the oldest goes regardless. */
const SECOND_CHANCES = 16;

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

  /** The entry, fresh or stale, marked as used; undefined if absent or too old. */
  get(key: string, now: number): CacheEntry | undefined {
    const e = this.map.get(key);
    if (e === undefined) return undefined;
    if (now >= e.staleUntil) {
      this.delete(key, e);
      return undefined;
    }
    // A hit only sets a flag. Moving the entry to the recent end of the Map (delete + set)
    // on every hit, as a strict LRU would, leaves a hole per hit, and the Map rebuilds its
    // whole table every `capacity` hits — garbage at the query rate, and for a large cache
    // tables big enough to go straight to the old generation and bring on full collections.
    e.referenced = true;
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
      answerEnd: r.answerEnd,
      authorityEnd: r.authorityEnd,
      authenticData: r.authenticData,
      ttlOffsets: r.ttlOffsets,
      ttls,
      storedAt: now,
      expiresAt,
      staleUntil: expiresAt + this.opts.maxStaleMs,
      negative: r.negative,
      bytes: r.body.length + key.length + ENTRY_OVERHEAD,
      referenced: false,
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

  /**
   * Second-chance (CLOCK) eviction, an LRU approximation: from the oldest end, an entry
   * served since it was last here goes to the recent end with its flag cleared; the first
   * one not served goes. At most SECOND_CHANCES moves per eviction, so one put never walks
   * a whole large cache; past that the oldest goes whatever its flag.
   */
  private evict(): void {
    let chances = SECOND_CHANCES;
    while (this.map.size > this.opts.maxEntries || this.bytesUsed > this.opts.maxBytes) {
      const oldest = this.map.entries().next();
      if (oldest.done === true) return;
      const [key, e] = oldest.value;
      if (e.referenced && chances-- > 0) {
        e.referenced = false;
        this.map.delete(key);
        this.map.set(key, e);
        continue;
      }
      this.delete(key, e);
    }
  }

  private delete(key: string, e: CacheEntry): void {
    this.map.delete(key);
    this.bytesUsed -= e.bytes;
  }
}

/** TTL served with stale data (RFC 8767 4: 30 seconds is recommended). */
export const STALE_TTL = 30;

/** What the client asked for, beyond the question: how a cached entry is served to it. */
export interface ServeOptions {
  /** The client's OPT record for the reply; undefined when the client sent none. */
  readonly opt: Buffer | undefined;
  /** The client's largest acceptable reply, bytes (its UDP buffer, or 65535 over TCP). */
  readonly limit: number;
  /** The client set DO or AD: it may see the upstream's AD bit (RFC 6840 5.7/5.8). */
  readonly wantsAd: boolean;
  /** DNSSEC records matter to the client (DO): the authority section is never cut. */
  readonly dnssecOk: boolean;
}

const FLAG_TC = 0x02;
const FLAG_AD = 0x20;
const FLAG_CD = 0x10;

/**
 * How much of an entry's body fits `room` bytes: all of it, or without the additional
 * section, or (a positive answer to a client not doing DNSSEC) the answer section alone —
 * RFC 2181 9: extra records are left out and TC stays clear. -1: even the required part does
 * not fit, so the reply is TC=1 with no records. A negative answer keeps its authority
 * section (the SOA is what makes it cacheable, RFC 2308), and so does a DO answer (its NSEC
 * and RRSIG records prove the answer, RFC 4035 3.1.3).
 */
export function fitBody(e: CacheEntry, room: number, dnssecOk: boolean): number {
  if (e.body.length <= room) return e.body.length;
  if (e.authorityEnd <= room) return e.authorityEnd;
  if (!e.negative && !dnssecOk && e.answerEnd <= room) return e.answerEnd;
  return -1;
}

/**
 * A response for the client from a cache entry: the client's header and question in front of
 * the cached body (cut to fit the client's buffer, see fitBody), each TTL counted down by the
 * seconds since it was stored (or STALE_TTL when stale), the client's OPT behind it. RD and
 * CD are the client's; AD is the upstream's, for clients that asked for it.
 */
export function serveEntry(e: CacheEntry, query: Buffer, questionEnd: number, now: number, stale: boolean, o: ServeOptions): Buffer {
  const optLen = o.opt?.length ?? 0;
  const cut = fitBody(e, o.limit - questionEnd - optLen, o.dnssecOk);
  const bodyLen = cut < 0 ? 0 : cut;
  const out = Buffer.allocUnsafe(questionEnd + bodyLen + optLen);
  query.copy(out, 0, 0, questionEnd);
  out[2] = 0x80 | ((query[2] as number) & 0x79) | (cut < 0 ? FLAG_TC : 0);
  out[3] = 0x80 | ((query[3] as number) & FLAG_CD) | (o.wantsAd && e.authenticData ? FLAG_AD : 0) | (e.rcode & 0x0f);
  const an = cut < 0 ? 0 : e.counts[0];
  const ns = cut < 0 || cut <= e.answerEnd ? 0 : e.counts[1];
  const ar = cut < e.body.length ? 0 : e.counts[2];
  out.writeUInt16BE(an, 6);
  out.writeUInt16BE(ns, 8);
  out.writeUInt16BE(ar + (o.opt === undefined ? 0 : 1), 10);
  if (bodyLen > 0) {
    e.body.copy(out, questionEnd, 0, bodyLen);
    const elapsed = Math.floor((now - e.storedAt) / 1000);
    for (let i = 0; i < e.ttlOffsets.length; i++) {
      const at = e.ttlOffsets[i] as number;
      if (at >= bodyLen) break;
      const orig = e.ttls[i] as number;
      out.writeUInt32BE(stale ? STALE_TTL : Math.max(0, orig - elapsed), questionEnd + at);
    }
  }
  if (o.opt !== undefined) o.opt.copy(out, questionEnd + bodyLen);
  return out;
}
