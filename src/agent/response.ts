/**
 * Small responses built straight from the query's bytes: error answers (FORMERR, REFUSED,
 * NOTIMP, BADVERS, SERVFAIL) and the EDNS OPT record. No decode, no encoder: the question is
 * copied as received, so its case is echoed for free.
 */
import type { Edns } from '../dns/query.js';
import { HI_OPCODE_RD, HI_QR, LO_RA, LO_RCODE, Rcode, TYPE_OPT } from '../dns/header.js';

export { Rcode } from '../dns/header.js';

export const OPT_LENGTH = 11;

/**
 * Writes an OPT pseudo-record at `at`: root owner, our UDP payload size in the class, the
 * extended rcode's upper bits and the echoed DO bit in the TTL, no options.
 */
export function writeOpt(out: Buffer, at: number, udpSize: number, dnssecOk: boolean, extRcode = 0): number {
  out[at] = 0;
  out.writeUInt16BE(TYPE_OPT, at + 1);
  out.writeUInt16BE(udpSize, at + 3);
  out[at + 5] = extRcode >> 4;
  out[at + 6] = 0;
  out[at + 7] = dnssecOk ? 0x80 : 0;
  out[at + 8] = 0;
  out.writeUInt16BE(0, at + 9);
  return at + OPT_LENGTH;
}

const shared = new Map<number, Buffer>();

/**
 * An OPT record to copy into answers, shared: only a few distinct ones exist (our size ×
 * the DO bit), so every cached answer and every reply points at the same bytes. Never
 * written after creation.
 */
export function sharedOpt(udpSize: number, dnssecOk: boolean): Buffer {
  const key = udpSize * 2 + (dnssecOk ? 1 : 0);
  let b = shared.get(key);
  if (b === undefined) {
    b = Buffer.alloc(OPT_LENGTH);
    writeOpt(b, 0, udpSize, dnssecOk);
    shared.set(key, b);
  }
  return b;
}

export interface ErrorContext {
  readonly id: number;
  readonly flagsHi: number;
  /** 12 when there is no readable question to copy. */
  readonly questionEnd: number;
  readonly edns: Edns | undefined;
}

/**
 * Header + (question) + (OPT) with the given rcode. Opcode and RD are echoed from the query;
 * RA says whether this server recurses for the client (it forwards).
 */
export function errorResponse(query: Buffer, ctx: ErrorContext, rcode: number, udpSize: number, recursionAvailable: boolean): Buffer {
  const qlen = ctx.questionEnd - 12;
  const hasOpt = ctx.edns !== undefined || rcode === Rcode.BADVERS;
  const out = Buffer.allocUnsafe(12 + qlen + (hasOpt ? OPT_LENGTH : 0));
  out.writeUInt16BE(ctx.id, 0);
  out[2] = HI_QR | (ctx.flagsHi & HI_OPCODE_RD);
  out[3] = (recursionAvailable ? LO_RA : 0) | (rcode & LO_RCODE);
  out.writeUInt16BE(qlen > 0 ? 1 : 0, 4);
  out.writeUInt16BE(0, 6);
  out.writeUInt16BE(0, 8);
  out.writeUInt16BE(hasOpt ? 1 : 0, 10);
  if (qlen > 0) query.copy(out, 12, 12, ctx.questionEnd);
  if (hasOpt) writeOpt(out, 12 + qlen, udpSize, ctx.edns?.dnssecOk ?? false, rcode);
  return out;
}

