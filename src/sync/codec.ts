/**
 * The sync engine's messages: encoding and decoding over dns-packet, plus the builders for
 * NOTIFY (with or without the diff), SOA queries and transfer requests. Records leaving
 * here are canonical RRs; records arriving are canonicalized before anyone compares them.
 */
import type { Answer, Packet, Question } from 'dns-packet';
import { decodeMessage, encodeMessage, type WireMessage } from '../dns/wire.js';
import { FLAG_AA, headerFields, Opcode, type HeaderFields, Rcode } from '../dns/header.js';
import type { RR } from '../dns/rr.js';
import { canonicalRR, type SoaRdata } from '../dns/rdata.js';
import { nameCodec, rdataCodec } from '../dns/packet-codecs.js';
import type { ZoneDiff } from '../zone/types.js';
import { readWireName, WireNameError } from '../dns/wire-names.js';
import { leaderInfoOption, type LeaderInfo } from './leader-info.js';

/** The header vocabulary (dns/header.ts) under the names the sync engine has used. */
export const OPCODE_QUERY = Opcode.QUERY;
export const OPCODE_NOTIFY = Opcode.NOTIFY;
export const RCODE = Rcode;

/** Largest NOTIFY that carries a diff: the EDNS buffer size safe from fragmentation. */
export const NOTIFY_MAX_DATAGRAM = 1232;

export class MessageError extends Error {
  override readonly name = 'MessageError';
}

export type Header = HeaderFields;

/** Header fields straight from the bytes (dns-packet's decode names opcodes, not numbers). */
export function readHeader(msg: Uint8Array): Header {
  const h = headerFields(msg);
  if (h === undefined) throw new MessageError('message shorter than a header');
  return h;
}

export function flags(opts: { qr?: boolean; opcode?: number; aa?: boolean; rcode?: number }): number {
  return ((opts.opcode ?? 0) << 11) | (opts.aa ? FLAG_AA : 0) | (opts.rcode ?? 0);
}

/** Encodes with name compression (dns/wire); opcode and rcode ride in `flags`. */
export function encode(p: Packet): Buffer {
  return encodeMessage(p as WireMessage);
}

export function decode(msg: Uint8Array): Packet {
  try {
    return decodeMessage(Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength));
  } catch (err) {
    throw new MessageError(`undecodable message: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Records of a decoded section in canonical form; OPT, TSIG and non-IN data dropped. */
export function sectionRRs(section: readonly Answer[] | undefined): RR[] {
  const out: RR[] = [];
  for (const a of section ?? []) {
    if (a.type === 'OPT' || (a.type as string) === 'TSIG') continue;
    const cls = (a as { class?: string }).class;
    if (cls !== undefined && cls !== 'IN') continue;
    out.push(canonicalRR(a as { name: string; type: string; ttl?: number; data?: unknown }));
  }
  return out;
}

export function soaSerial(rr: RR | undefined): number | undefined {
  return rr?.type === 'SOA' ? (rr.data as SoaRdata).serial >>> 0 : undefined;
}

export function withSerial(soa: RR, serial: number): RR {
  return { ...soa, data: { ...(soa.data as SoaRdata), serial: serial >>> 0 } } as RR;
}

function edns(info?: LeaderInfo): Answer {
  return { type: 'OPT', name: '.', udpPayloadSize: NOTIFY_MAX_DATAGRAM, flags: 0, options: info ? [leaderInfoOption(info)] : [] } as unknown as Answer;
}

function question(origin: string, type: string): Question {
  return { name: origin, type: type as Question['type'], class: 'IN' };
}

/**
 * NOTIFY for `soa`'s zone. With a diff, the authority section carries it in IXFR order
 * (old SOA, deleted, new SOA, added), which a standard secondary ignores. `info` (the
 * leader's term and transfer endpoint) rides as an EDNS option, under the TSIG added later.
 */
export function notifyMessage(id: number, soa: RR, diff?: ZoneDiff, info?: LeaderInfo): Buffer {
  const authorities: Answer[] = diff ? [withSerial(soa, diff.fromSerial), ...diff.deleted, soa, ...diff.added] : [];
  return encode({ type: 'query', id, flags: flags({ opcode: OPCODE_NOTIFY, aa: true }), questions: [question(soa.name, 'SOA')], answers: [soa], authorities, additionals: [edns(info)] });
}

/** A NOTIFY announcing no serial: the receiver must ask (and learns the zone is gone). */
export function bareNotify(id: number, origin: string, info?: LeaderInfo): Buffer {
  return encode({ type: 'query', id, flags: flags({ opcode: OPCODE_NOTIFY, aa: true }), questions: [question(origin, 'SOA')], additionals: [edns(info)] });
}

/** The diff a NOTIFY carries, when it carries one that is well formed. */
export function notifyDiff(origin: string, p: Packet): ZoneDiff | undefined {
  const auth = sectionRRs(p.authorities);
  const first = auth[0];
  if (!first || first.type !== 'SOA' || first.name !== origin) return undefined;
  const second = auth.findIndex((rr, i) => i > 0 && rr.type === 'SOA');
  if (second < 0) return undefined;
  const newSoa = auth[second] as RR;
  if (newSoa.name !== origin || auth.slice(second + 1).some((rr) => rr.type === 'SOA')) return undefined;
  const announced = soaSerial(sectionRRs(p.answers).find((rr) => rr.type === 'SOA'));
  const toSerial = soaSerial(newSoa) as number;
  if (announced !== undefined && announced !== toSerial) return undefined;
  return { origin, fromSerial: soaSerial(first) as number, toSerial, soa: newSoa, deleted: auth.slice(1, second), added: auth.slice(second + 1) };
}

/** A response echoing the request's ID, opcode and question. */
export function responseTo(req: Packet, opcode: number, rcode: number, answers: readonly RR[] = [], aa = true): Buffer {
  return encode({ type: 'response', id: req.id ?? 0, flags: flags({ qr: true, opcode, aa, rcode }), questions: req.questions ?? [], answers: [...answers] });
}

/** REFUSED/NOTAUTH etc. built from the raw request header and its first question, if any. */
export function errorResponse(raw: Uint8Array, rcode: number): Buffer | undefined {
  let h: Header;
  try {
    h = readHeader(raw);
  } catch {
    return undefined;
  }
  let questions: Question[];
  try {
    questions = (decode(raw).questions ?? []).slice(0, 1);
  } catch {
    questions = [];
  }
  return encode({ type: 'response', id: h.id, flags: flags({ qr: true, opcode: h.opcode, rcode }), questions });
}

/** EDNS COOKIE (RFC 7873 §4); a request carries the client cookie alone, 8 bytes. */
export const EDNS_COOKIE = 10;
export const CLIENT_COOKIE_BYTES = 8;

/**
 * The OPT record of a request that carries a client cookie. The pulling side sends a fresh
 * random one with every request: every agent signs with the one TSIG key, so without it two
 * agents asking the same thing in the same second would send the same bytes (header IDs are
 * only 16 bits), and the primary's replay cache would refuse the second as a copy of the first.
 */
function cookieEdns(cookie: Uint8Array): Answer {
  if (cookie.length !== CLIENT_COOKIE_BYTES) throw new MessageError(`client cookie: ${cookie.length} bytes, not ${CLIENT_COOKIE_BYTES}`);
  return { type: 'OPT', name: '.', udpPayloadSize: NOTIFY_MAX_DATAGRAM, flags: 0, options: [{ code: EDNS_COOKIE, data: Buffer.from(cookie) }] } as unknown as Answer;
}

/** An SOA query; with `cookie`, it carries that client cookie (see cookieEdns). */
export function soaQuery(id: number, origin: string, cookie?: Uint8Array): Buffer {
  const additionals = cookie ? [cookieEdns(cookie)] : [];
  return encode({ type: 'query', id, flags: 0, questions: [question(origin, 'SOA')], additionals });
}

/**
 * AXFR, or IXFR from `current` (whose SOA goes in the authority section, RFC 1995 §3); with
 * `cookie`, it carries that client cookie (see cookieEdns).
 */
export function transferQuery(id: number, origin: string, current?: RR, cookie?: Uint8Array): Buffer {
  const additionals = cookie ? [cookieEdns(cookie)] : [];
  if (!current) return encode({ type: 'query', id, flags: 0, questions: [question(origin, 'AXFR')], additionals });
  return encode({ type: 'query', id, flags: 0, questions: [question(origin, 'IXFR')], authorities: [current], additionals });
}

/** Uncompressed size of one record on the wire. */
export function encodedLength(rr: RR): number {
  return nameCodec.encodingLength(rr.name) + 10 + rdataCodec(rr.type).encodingLength(rr.data) - 2;
}

/** The shared wire-name reader, its errors as this module's. */
function readName(msg: Uint8Array, offset: number): { name: string; end: number } {
  try {
    return readWireName(msg, offset);
  } catch (err) {
    throw err instanceof WireNameError ? new MessageError(err.message) : err;
  }
}

function skipQuestionsAndRead(msg: Uint8Array): number {
  if (msg.length < 12) throw new MessageError('message shorter than a header');
  const qd = ((msg[4] as number) << 8) | (msg[5] as number);
  let o = 12;
  for (let i = 0; i < qd; i++) o = readName(msg, o).end + 4;
  return o;
}

/**
 * The serial of the IN SOA record for `origin` in the answer section, read straight from the
 * bytes: a NOTIFY answer is this one record, and a hundred agents answer every change, so
 * the primary reads just the serial rather than decoding whole messages. Undefined when no
 * such record is there; throws MessageError when the message is malformed.
 */
export function answerSoaSerial(msg: Uint8Array, origin: string): number | undefined {
  const an = msg.length >= 12 ? ((msg[6] as number) << 8) | (msg[7] as number) : 0;
  let o = skipQuestionsAndRead(msg);
  for (let i = 0; i < an; i++) {
    const owner = readName(msg, o);
    o = owner.end;
    if (o + 10 > msg.length) throw new MessageError('record runs past the end');
    const type = ((msg[o] as number) << 8) | (msg[o + 1] as number);
    const cls = ((msg[o + 2] as number) << 8) | (msg[o + 3] as number);
    const rdlen = ((msg[o + 8] as number) << 8) | (msg[o + 9] as number);
    const rd = o + 10;
    if (rd + rdlen > msg.length) throw new MessageError('rdata runs past the end');
    if (type === 6 && cls === 1 && owner.name === origin) {
      const serialAt = readName(msg, readName(msg, rd).end).end;
      if (serialAt + 20 > rd + rdlen) throw new MessageError('short SOA rdata');
      return Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength).readUInt32BE(serialAt);
    }
    o = rd + rdlen;
  }
  return undefined;
}
