/**
 * One forwarding-cache entry and how it is served to a client: the entry's shape, how much of
 * it fits the client's buffer (RFC 2181 9, RFC 2308, RFC 4035 3.1.3), and the response built
 * from it with the client's header and question, TTLs counted down. forward-cache.ts keeps
 * entries in shared memory and serves them with the same header writer.
 */
import type { ScannedResponse } from './upstream-message.js';
import { HI_OPCODE_RD, HI_QR, HI_TC, LO_AD, LO_CD, LO_RA, LO_RCODE } from '../dns/header.js';

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
  /** Bytes it takes in the cache's ring. */
  readonly bytes: number;
  /** Unused on a copy: the cache keeps this flag in its ring (see ForwardCache.evict). */
  referenced: boolean;
}

/** fitBody on the fields of an entry. */
export function fitLength(bodyLength: number, answerEnd: number, authorityEnd: number, negative: boolean, room: number, dnssecOk: boolean): number {
  if (bodyLength <= room) return bodyLength;
  if (authorityEnd <= room) return authorityEnd;
  if (!negative && !dnssecOk && answerEnd <= room) return answerEnd;
  return -1;
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


/**
 * The header of a served entry: the client's ID, opcode, RD and CD; QR and RA; TC when even
 * the required part did not fit (`cut` < 0); AD when shown to this client; the entry's rcode;
 * the counts of the sections kept (an OPT of the client's own after them).
 */
export function servedHeader(out: Buffer, query: Buffer, cut: number, ad: boolean, rcode: number, an: number, ns: number, ar: number, answerEnd: number, bodyLength: number, hasOpt: boolean): void {
  out[2] = HI_QR | ((query[2] as number) & HI_OPCODE_RD) | (cut < 0 ? HI_TC : 0);
  out[3] = LO_RA | ((query[3] as number) & LO_CD) | (ad ? LO_AD : 0) | (rcode & LO_RCODE);
  out.writeUInt16BE(cut < 0 ? 0 : an, 6);
  out.writeUInt16BE(cut < 0 || cut <= answerEnd ? 0 : ns, 8);
  out.writeUInt16BE(((cut < bodyLength ? 0 : ar) + (hasOpt ? 1 : 0)) & 0xffff, 10);
}

/** A cache entry for a scanned upstream answer (`bytes`: its size in the ring). */
export function entryOf(r: ScannedResponse, ttls: Uint32Array, now: number, expiresAt: number, staleUntil: number, bytes: number): CacheEntry {
  return {
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
    staleUntil,
    negative: r.negative,
    bytes,
    referenced: false,
  };
}

/**
 * How much of an entry's body fits `room` bytes: all of it, or without the additional
 * section, or (a positive answer to a client not doing DNSSEC) the answer section alone —
 * RFC 2181 9: extra records are left out and TC stays clear. -1: even the required part does
 * not fit, so the reply is TC=1 with no records. A negative answer keeps its authority
 * section (the SOA is what makes it cacheable, RFC 2308), and so does a DO answer (its NSEC
 * and RRSIG records prove the answer, RFC 4035 3.1.3).
 */
export function fitBody(e: CacheEntry, room: number, dnssecOk: boolean): number {
  return fitLength(e.body.length, e.answerEnd, e.authorityEnd, e.negative, room, dnssecOk);
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
  servedHeader(out, query, cut, o.wantsAd && e.authenticData, e.rcode, e.counts[0], e.counts[1], e.counts[2], e.answerEnd, e.body.length, o.opt !== undefined);
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
