/**
 * Turns a zone lookup into the encoded forms the fast path serves: AA set for answers from
 * the zone (not for referrals), NXDOMAIN/NODATA with the SOA in the authority section, and
 * the EDNS OPT record when the query had one.
 */
import type { RR } from '../dns/rr.js';
import type { LookupResult } from '../zone/types.js';
import type { EncodedAnswer } from './answer-cache.js';
import { encodeMessage } from './encode.js';
import type { Query } from '../dns/query.js';
import { sharedOpt } from './response.js';
import { FLAG_AA, FLAG_RA, Rcode } from '../dns/header.js';
import { typeName } from '../dns/wire.js';


/**
 * `recursionAvailable`: RA is the server's property, not the answer's (RFC 1035 4.1.1): an
 * agent that forwards says so in its authoritative answers too, as BIND and unbound do.
 */
export function encodeAuthoritative(q: Query, result: LookupResult, udpSize: number, recursionAvailable = false): EncodedAnswer {
  let rcode: number = Rcode.NOERROR;
  let aa = true;
  let answer: readonly RR[] = [];
  let authority: readonly RR[] = result.authority;
  let additional: readonly RR[] = [];
  switch (result.kind) {
    case 'answer':
      answer = result.answer;
      additional = result.additional;
      break;
    case 'nodata':
      answer = result.answer;
      break;
    case 'nxdomain':
      answer = result.answer;
      rcode = Rcode.NXDOMAIN;
      break;
    case 'referral':
      aa = false;
      authority = result.authority;
      additional = result.additional;
      break;
  }
  const opt = q.edns === undefined ? undefined : sharedOpt(udpSize, q.edns.dnssecOk);
  const question = { name: q.qname, type: typeName(q.qtype), class: 'IN' as const };
  const flags = (aa ? FLAG_AA : 0) | (recursionAvailable ? FLAG_RA : 0) | rcode;
  const full = withOpt(encodeMessage(flags, question, answer, authority, additional), opt);
  const noAdditional = additional.length > 0 && full.length > 512 ? withOpt(encodeMessage(flags, question, answer, authority, []), opt) : undefined;
  return { full, noAdditional, questionEnd: q.questionEnd, truncated: undefined, opt, rcode };
}

/** Appends the OPT record and counts it in ARCOUNT. */
function withOpt(msg: Buffer, opt: Buffer | undefined): Buffer {
  if (opt === undefined) return msg;
  const out = Buffer.concat([msg, opt]);
  out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
  return out;
}
