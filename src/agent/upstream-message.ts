/**
 * Reads an upstream's response just enough to cache it as bytes: where each TTL sits (so a
 * served copy can count down without re-encoding), the minimum TTL, the negative-caching TTL
 * from the SOA in the authority section (RFC 2308 5: min of the SOA's TTL and MINIMUM), and
 * where the OPT record starts (it belongs to the upstream hop and is cut off).
 *
 * The body kept is everything after the question. Served copies put the client's header and
 * question in front of it: same name, so same length, so every compression pointer still
 * lands where it did, and pointers to the question now echo the client's case.
 */
import { skipWireName, WireNameError } from '../dns/wire-names.js';

export class UpstreamMessageError extends Error {
  override readonly name = 'UpstreamMessageError';
}

export interface ScannedResponse {
  readonly rcode: number;
  readonly truncated: boolean;
  readonly authoritative: boolean;
  /**
   * The upstream's AD bit. We validate nothing ourselves: this is the upstream's word, passed
   * on only to clients that ask for it (DO or AD set, RFC 6840 5.7/5.8).
   */
  readonly authenticData: boolean;
  /** Bytes after the question up to (not including) the OPT record. */
  readonly body: Buffer;
  readonly counts: readonly [number, number, number];
  /**
   * Where the authority and the additional sections start within `body`: a reply too big for
   * the client's buffer is cut there (RFC 2181 9: extra data is left out, TC stays clear).
   * Compression pointers only point backwards, so a cut never breaks the part kept.
   */
  readonly answerEnd: number;
  readonly authorityEnd: number;
  /** Offsets of TTL fields within `body`, ascending. */
  readonly ttlOffsets: Uint32Array;
  readonly ttls: Uint32Array;
  /** Smallest TTL of the answer section (positive) or the negative TTL; undefined if none. */
  readonly cacheTtl: number | undefined;
  readonly negative: boolean;
}

/** The shared wire-name walk, its errors as this module's. */
function skipName(buf: Buffer, p: number): number {
  try {
    return skipWireName(buf, p);
  } catch (err) {
    throw err instanceof WireNameError ? new UpstreamMessageError(err.message) : err;
  }
}

/**
 * `questionEnd` is where the question ends in the *client's* query; the upstream got the
 * same question bytes, so its response's question ends at the same offset.
 */
export function scanResponse(buf: Buffer, questionEnd: number): ScannedResponse {
  if (buf.length < questionEnd) throw new UpstreamMessageError('response shorter than its question');
  const rcode = (buf[3] as number) & 0x0f;
  const truncated = ((buf[2] as number) & 0x02) !== 0;
  const authoritative = ((buf[2] as number) & 0x04) !== 0;
  const authenticData = ((buf[3] as number) & 0x20) !== 0;
  const an = buf.readUInt16BE(6);
  const ns = buf.readUInt16BE(8);
  const ar = buf.readUInt16BE(10);
  const offsets: number[] = [];
  const ttls: number[] = [];
  let p = questionEnd;
  let optAt = -1;
  let keptAn = 0;
  let keptNs = 0;
  let keptAr = 0;
  let answerEnd = -1;
  let authorityEnd = -1;
  let minAnswer = Infinity;
  let negTtl = Infinity;
  const total = an + ns + ar;
  for (let i = 0; i < total; i++) {
    const start = p;
    if (i === an) answerEnd = start;
    if (i === an + ns) authorityEnd = start;
    p = skipName(buf, p);
    if (p + 10 > buf.length) throw new UpstreamMessageError('record header runs past the end');
    const type = buf.readUInt16BE(p);
    const ttl = buf.readUInt32BE(p + 4);
    const rdlen = buf.readUInt16BE(p + 8);
    const rdata = p + 10;
    if (rdata + rdlen > buf.length) throw new UpstreamMessageError('rdata runs past the end');
    const section = i < an ? 0 : i < an + ns ? 1 : 2;
    if (type === 41) {
      if (section !== 2) throw new UpstreamMessageError('OPT outside the additional section');
      // Everything from the OPT on is dropped: it is the upstream's hop, and anything after
      // it (TSIG) is too.
      optAt = start;
      break;
    }
    // TTLs with the top bit set are treated as zero (RFC 2181 8).
    const t = ttl > 0x7fffffff ? 0 : ttl;
    offsets.push(p + 4 - questionEnd);
    ttls.push(t);
    if (section === 0) minAnswer = Math.min(minAnswer, t);
    if (section === 1 && type === 6 && rdlen >= 20) {
      const minimum = buf.readUInt32BE(rdata + rdlen - 4);
      negTtl = Math.min(negTtl, t, minimum);
    }
    if (section === 0) keptAn++;
    else if (section === 1) keptNs++;
    else keptAr++;
    p = rdata + rdlen;
  }
  const end = optAt >= 0 ? optAt : p;
  if (answerEnd < 0) answerEnd = end;
  if (authorityEnd < 0) authorityEnd = end;
  const negative = rcode === 3 || (rcode === 0 && keptAn === 0);
  let cacheTtl: number | undefined;
  if (rcode === 0 || rcode === 3) {
    if (negative) cacheTtl = Number.isFinite(negTtl) ? negTtl : undefined;
    else cacheTtl = Number.isFinite(minAnswer) ? minAnswer : undefined;
    // NXDOMAIN after a CNAME chain: the chain's TTLs bound it too.
    if (negative && cacheTtl !== undefined && Number.isFinite(minAnswer)) cacheTtl = Math.min(cacheTtl, minAnswer);
  }
  return {
    rcode,
    truncated,
    authoritative,
    authenticData,
    body: Buffer.from(buf.subarray(questionEnd, end)),
    counts: [keptAn, keptNs, keptAr],
    answerEnd: answerEnd - questionEnd,
    authorityEnd: authorityEnd - questionEnd,
    ttlOffsets: Uint32Array.from(offsets),
    ttls: Uint32Array.from(ttls),
    cacheTtl,
    negative,
  };
}
