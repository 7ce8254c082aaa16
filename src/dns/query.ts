/**
 * Reads an incoming query without decoding the whole message: header, the one question and
 * the EDNS OPT record. This is the hot path's only parse, so it works on the bytes in place
 * and produces the lower-cased cache key in a single string allocation.
 *
 * A query that cannot be read is classified rather than thrown: `drop` when not even the
 * header is there (or it is a response — answering those invites reflection loops), `formerr`
 * when the header is readable but the rest is not.
 */

import { Opcode, TYPE_OPT } from './header.js';

export const QTYPE_AXFR = 252;
export const QTYPE_IXFR = 251;

export interface Edns {
  /** Requestor's UDP payload size, at least 512 (RFC 6891 6.2.5). */
  readonly udpSize: number;
  readonly version: number;
  readonly dnssecOk: boolean;
}

export interface Query {
  readonly id: number;
  readonly opcode: number;
  /** Byte 2 of the header as received (RD, opcode, ...). */
  readonly flagsHi: number;
  /** Byte 3 of the header as received (CD, AD, ...). */
  readonly flagsLo: number;
  /** Canonical query name: lower-case, no trailing dot, root = ''. */
  readonly qname: string;
  readonly qtype: number;
  readonly qclass: number;
  /** Offset just past the question (12 + qname bytes + 4). */
  readonly questionEnd: number;
  /** Undefined when the query had no OPT record. */
  readonly edns: Edns | undefined;
  /**
   * Fast-path cache key: lower-case name, type and EDNS variant. Two queries with the same
   * key get byte-identical answers apart from the ID and the question name's case.
   */
  readonly key: string;
}

export type ParseResult =
  | { readonly kind: 'ok'; readonly query: Query }
  /** Header readable, message not: answer FORMERR (with the question if there was one). */
  | { readonly kind: 'formerr'; readonly id: number; readonly opcode: number; readonly flagsHi: number; readonly questionEnd: number }
  /** Header unreadable, or a response (QR=1): send nothing. */
  | { readonly kind: 'drop' };

const DROP: ParseResult = { kind: 'drop' };
/** 255 bytes of name, a separator, 2 bytes type, 1 byte variant. */
const scratch = Buffer.allocUnsafe(300);

/** EDNS variant in the key: none, EDNS, EDNS with DO. The OPT record echoes DO. */
function variant(edns: Edns | undefined): number {
  return edns === undefined ? 0 : edns.dnssecOk ? 2 : 1;
}

/** Not a closure inside parseQuery: that would be allocated for every query, answered or not. */
function formErr(id: number, opcode: number, flagsHi: number, questionEnd: number): ParseResult {
  return { kind: 'formerr', id, opcode, flagsHi, questionEnd };
}

export function parseQuery(buf: Buffer): ParseResult {
  const len = buf.length;
  if (len < 12) return DROP;
  const flagsHi = buf[2] as number;
  if ((flagsHi & 0x80) !== 0) return DROP;
  const id = buf.readUInt16BE(0);
  const opcode = (flagsHi >> 3) & 0x0f;
  const qd = buf.readUInt16BE(4);
  const an = buf.readUInt16BE(6);
  const ns = buf.readUInt16BE(8);
  const ar = buf.readUInt16BE(10);
  // A query carries exactly one question (RFC 9619); NOTIFY/UPDATE may carry more sections,
  // but the service port refuses those anyway, so reading the question is all it needs.
  if (qd !== 1) return formErr(id, opcode, flagsHi, 12);

  // Question name: plain labels only (a compression pointer in the question has nothing to
  // point back to). Lower-cased into the scratch buffer as we go.
  let p = 12;
  let w = 0;
  for (;;) {
    if (p >= len) return formErr(id, opcode, flagsHi, 12);
    const l = buf[p] as number;
    if (l === 0) {
      p++;
      break;
    }
    if (l > 63) return formErr(id, opcode, flagsHi, 12);
    if (p + 1 + l > len || w + l + 1 > 255) return formErr(id, opcode, flagsHi, 12);
    if (w > 0) scratch[w++] = 0x2e;
    for (let i = p + 1, e = p + 1 + l; i < e; i++) {
      const c = buf[i] as number;
      scratch[w++] = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
    }
    p += 1 + l;
  }
  if (p + 4 > len) return formErr(id, opcode, flagsHi, 12);
  const nameLen = w;
  const qtype = buf.readUInt16BE(p);
  const qclass = buf.readUInt16BE(p + 2);
  p += 4;
  const questionEnd = p;

  let edns: Edns | undefined;
  if (opcode === Opcode.QUERY) {
    if (an !== 0 || ns !== 0) return formErr(id, opcode, flagsHi, questionEnd);
    // The additional section of a query holds at most OPT (and TSIG, which the service port
    // does not verify; such a query is answered as if unsigned would be wrong, so FORMERR).
    if (ar > 1) return formErr(id, opcode, flagsHi, questionEnd);
    if (ar === 1) {
      // OPT owner must be the root: one zero byte.
      if (p + 11 > len || buf[p] !== 0) return formErr(id, opcode, flagsHi, questionEnd);
      const type = buf.readUInt16BE(p + 1);
      if (type !== TYPE_OPT) return formErr(id, opcode, flagsHi, questionEnd);
      const size = buf.readUInt16BE(p + 3);
      const version = buf[p + 6] as number;
      const doBit = ((buf[p + 7] as number) & 0x80) !== 0;
      const rdlen = buf.readUInt16BE(p + 9);
      if (p + 11 + rdlen !== len) return formErr(id, opcode, flagsHi, questionEnd);
      // Walk the options only to check their framing.
      let o = p + 11;
      const end = o + rdlen;
      while (o < end) {
        if (o + 4 > end) return formErr(id, opcode, flagsHi, questionEnd);
        const olen = buf.readUInt16BE(o + 2);
        o += 4 + olen;
        if (o > end) return formErr(id, opcode, flagsHi, questionEnd);
      }
      edns = { udpSize: Math.max(512, size), version, dnssecOk: doBit };
    } else if (p !== len) {
      // Trailing bytes after the question: not a well-formed message.
      return formErr(id, opcode, flagsHi, questionEnd);
    }
  }

  scratch[w] = 0;
  scratch[w + 1] = qtype >> 8;
  scratch[w + 2] = qtype & 0xff;
  scratch[w + 3] = variant(edns) + 0x30;
  const key = scratch.toString('latin1', 0, w + 4);
  const qname = key.slice(0, nameLen);
  return {
    kind: 'ok',
    query: { id, opcode, flagsHi, flagsLo: buf[3] as number, qname, qtype, qclass, questionEnd, edns, key },
  };
}
