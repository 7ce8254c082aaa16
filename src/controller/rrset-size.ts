/**
 * How big an RRset may grow. An answer must fit one DNS message, and over TCP a message is at
 * most 65,535 octets (RFC 1035 §4.2.2); an RRset that does not fit is answered TC=1 with no
 * data even over TCP — unservable. The limit leaves room in that message for the header, the
 * question (at most 259 octets), an EDNS OPT record and an SOA (at most ~540 octets), so
 * the records themselves, each with its owner name as a 2-octet compression pointer, may take
 * MAX_RRSET_OCTETS.
 */
import { encodeMessage } from '../dns/wire.js';

export const MAX_RRSET_OCTETS = 64_000;

/**
 * An upper bound of one record's wire size from its presentation text, without encoding it:
 * owner pointer (2) + type, class, TTL, RDLENGTH (10) + RDATA, where RDATA is at most a name
 * (255) plus a few fixed fields, or the text's octets plus a length octet per 255 (TXT, CAA).
 */
export function roughRecordOctets(text: string): number {
  return 12 + 262 + 2 * Buffer.byteLength(text, 'utf8');
}

/** Owner pointer (2) + type, class, TTL, RDLENGTH (10). */
const RR_FIXED = 12;

/**
 * The exact wire size of one record (dns-packet rdata) answering a question for its owner.
 * Addresses and TXT are counted directly (an RRset of thousands is evaluated on every change
 * to its name); types holding names are encoded, since their names may compress.
 */
export function recordOctets(owner: string, type: string, data: unknown): number {
  if (type === 'A') return RR_FIXED + 4;
  if (type === 'AAAA') return RR_FIXED + 16;
  if (type === 'TXT' && Array.isArray(data)) return RR_FIXED + data.reduce<number>((n, part) => n + 1 + (part as Uint8Array).length, 0);
  const name = owner === '' ? '.' : owner;
  const question = { name, type };
  const bare = encodeMessage({ type: 'response', questions: [question] }).length;
  return encodeMessage({ type: 'response', questions: [question], answers: [{ name, type, class: 'IN', ttl: 0, data }] }).length - bare;
}
