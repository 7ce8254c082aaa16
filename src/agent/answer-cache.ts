/**
 * The authoritative fast path: answers encoded once per (zone-store version, lower-case name,
 * type, EDNS variant) and served by copying bytes. A hit costs one Map lookup, one buffer
 * copy and four patches: the ID, the RD and CD bits, and the question name's own bytes (so
 * its case is echoed, and so are the answer owners that compress to it).
 *
 * The cache is emptied whenever the store's version changes, which is what keys it by
 * version without putting the version in every key. It is bounded by entries, in two
 * generations (see AnswerCache): names in use stay, a random-name flood only churns
 * NXDOMAIN entries.
 *
 * Most answers are kept as a latin1 string of their bytes, not as an EncodedAnswer: a
 * one-byte string costs its length plus a 16-byte header, where a Buffer over pooled bytes
 * adds a ~100-byte view and the EncodedAnswer its own object. At 100,000 cached names that
 * is ~30 MB of agent RSS. Only answers with a form without additional records (over 512
 * octets, with glue) keep the whole EncodedAnswer.
 */
import { HI_RD, HI_TC, LO_CD } from '../dns/header.js';

export interface EncodedAnswer {
  /** Whole response; ID 0 and the question name lower-case. */
  readonly full: Buffer;
  /**
   * Same without the additional section (glue/targets): only kept when it has one and the
   * full answer is over 512 octets, the only case where a client may need it.
   */
  readonly noAdditional: Buffer | undefined;
  /** Where the question ends: the TC=1 form is built from `full` on first need. */
  readonly questionEnd: number;
  /** Header + question (+ OPT) with TC=1, memoised: what a too-small UDP buffer gets. */
  truncated: Buffer | undefined;
  /** The OPT record in `full`, if any (the TC form carries it too). */
  readonly opt: Buffer | undefined;
  readonly rcode: number;
}

/** A cached answer: the whole response as latin1 (see above), or all its forms. */
export type CachedAnswer = string | EncodedAnswer;

export class AnswerCache {
  /**
   * Two generations instead of one FIFO map: new entries go into `young`; when it holds
   * half the bound it becomes `old` and the previous old one is dropped whole. A hit in
   * `old` is copied into `young`, so names in use survive the rotation (LRU-like) where a
   * FIFO would evict them in turn. It is also smaller: a Map that churns through deletes
   * keeps a table sized for twice its entries (20,000 entries: a 1.8 MB table), while
   * maps that are only ever added to and then dropped stay at their fill.
   */
  private young = new Map<string, CachedAnswer>();
  private old = new Map<string, CachedAnswer>();
  private readonly half: number;
  private version = -1;

  constructor(maxEntries: number) {
    this.half = Math.max(1, Math.floor(maxEntries / 2));
  }

  get size(): number {
    return this.young.size + this.old.size;
  }

  /** Entries encoded for another store version are gone after this. */
  sync(version: number): void {
    if (version !== this.version) {
      this.young = new Map();
      this.old = new Map();
      this.version = version;
    }
  }

  get(key: string): CachedAnswer | undefined {
    const hit = this.young.get(key);
    if (hit !== undefined) return hit;
    const older = this.old.get(key);
    if (older !== undefined) this.admit(key, older);
    return older;
  }

  set(key: string, answer: EncodedAnswer): void {
    this.admit(key, answer.noAdditional === undefined ? answer.full.toString('latin1') : answer);
  }

  private admit(key: string, answer: CachedAnswer): void {
    if (this.young.size >= this.half) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, answer);
  }
}

/** The rcode of a cached answer (authoritative answers never need the extended bits). */
export function cachedRcode(answer: CachedAnswer): number {
  return typeof answer === 'string' ? answer.charCodeAt(3) & 0x0f : answer.rcode;
}

/**
 * The response to a query from a cached answer: the largest form that fits `limit`,
 * patched as patchAnswer does. `opt` is the query's OPT record, which the TC form carries;
 * it is only read when a latin1 answer exceeds `limit`.
 */
export function serveCached(answer: CachedAnswer, limit: number, opt: Buffer | undefined, query: Buffer, id: number, flagsHi: number, flagsLo: number, questionEnd: number): Buffer {
  if (typeof answer !== 'string') return patchAnswer(choose(answer, limit), query, id, flagsHi, flagsLo, questionEnd - 4);
  if (answer.length > limit) {
    // Rare (a large answer to a small buffer): not memoised, the TC form is built again.
    return patchAnswer(truncatedForm(Buffer.from(answer, 'latin1'), questionEnd, opt), query, id, flagsHi, flagsLo, questionEnd - 4);
  }
  const out = Buffer.allocUnsafe(answer.length);
  out.write(answer, 0, 'latin1');
  out[0] = id >> 8;
  out[1] = id & 0xff;
  out[2] = (answer.charCodeAt(2) & ~HI_RD) | (flagsHi & HI_RD);
  out[3] = (answer.charCodeAt(3) & ~LO_CD) | (flagsLo & LO_CD);
  query.copy(out, 12, 12, questionEnd - 4);
  return out;
}

/** Picks the largest form that fits `limit` bytes. */
export function choose(answer: EncodedAnswer, limit: number): Buffer {
  if (answer.full.length <= limit) return answer.full;
  if (answer.noAdditional !== undefined && answer.noAdditional.length <= limit) return answer.noAdditional;
  return (answer.truncated ??= truncatedForm(answer.full, answer.questionEnd, answer.opt));
}

/**
 * Copies `template` and patches it for this query: ID, RD/CD echoed, question name bytes
 * taken from the query (same length by construction: the template was encoded from the same
 * name, lower-cased).
 */
export function patchAnswer(template: Buffer, query: Buffer, id: number, flagsHi: number, flagsLo: number, qnameEnd: number): Buffer {
  const out = Buffer.allocUnsafe(template.length);
  template.copy(out, 0, 0, template.length);
  out[0] = id >> 8;
  out[1] = id & 0xff;
  out[2] = ((template[2] as number) & ~HI_RD) | (flagsHi & HI_RD);
  out[3] = ((template[3] as number) & ~LO_CD) | (flagsLo & LO_CD);
  query.copy(out, 12, 12, qnameEnd);
  return out;
}

/** Builds the TC=1 form from a full response: header and question, plus OPT when present. */
export function truncatedForm(full: Buffer, questionEnd: number, opt: Buffer | undefined): Buffer {
  const out = Buffer.allocUnsafe(questionEnd + (opt?.length ?? 0));
  full.copy(out, 0, 0, questionEnd);
  out[2] = (out[2] as number) | HI_TC;
  out.writeUInt16BE(0, 6);
  out.writeUInt16BE(0, 8);
  out.writeUInt16BE(opt === undefined ? 0 : 1, 10);
  if (opt !== undefined) opt.copy(out, questionEnd);
  return out;
}
