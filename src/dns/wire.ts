/**
 * DNS messages on the wire: what dns-packet lacks. Encoding adds RFC 1035 §4.1.4 name
 * compression, the opcode, extended rcodes through EDNS, and truncation to a size limit;
 * decoding (wire-decode.ts) wraps dns-packet so that any malformed input becomes one typed
 * WireError. The header's vocabulary is header.ts; the agent's fast query reader is query.ts.
 */
import { createRequire } from 'node:module';
import packet from 'dns-packet';
import { rdataCodec } from './packet-codecs.js';
import { WireError } from './wire-error.js';
import { Writer } from './wire-writer.js';
import { EDNS_DO, FLAG_QR, FLAG_TC, Opcode, Rcode, TYPE_OPT, type OpcodeName, type RcodeName } from './header.js';

export { WireError } from './wire-error.js';

const require = createRequire(import.meta.url);
const typeTable = require('dns-packet/types.js') as { toType(name: string): number; toString(n: number): string };

const CLASSES: Record<string, number> = { IN: 1, CS: 2, CH: 3, HS: 4, NONE: 254, ANY: 255 };

const FLAG_BITS = 0x07f0;

export function typeCode(type: string | number): number {
  if (typeof type === 'number') return type;
  const m = /^(?:UNKNOWN_|TYPE)([0-9]+)$/i.exec(type);
  if (m) return Number(m[1]);
  const code = typeTable.toType(type);
  if (!code) throw new WireError(`unknown type ${type}`);
  return code;
}

export function typeName(code: number): string {
  return typeTable.toString(code);
}

function classCode(cls: string | number | undefined): number {
  if (cls === undefined) return 1;
  if (typeof cls === 'number') return cls;
  const c = CLASSES[cls.toUpperCase()];
  if (c !== undefined) return c;
  const m = /^(?:UNKNOWN_|CLASS)([0-9]+)$/i.exec(cls);
  if (m) return Number(m[1]);
  throw new WireError(`unknown class ${cls}`);
}

// ---------------------------------------------------------------------------------------
// Encoding

/** A record to encode: dns-packet's answer shape (type may also be a number). */
export interface WireRecord {
  readonly name: string;
  readonly type: string;
  readonly class?: string | number | undefined;
  readonly ttl?: number | undefined;
  readonly data?: unknown;
}

export interface WireQuestion {
  readonly name: string;
  readonly type: string;
  readonly class?: string | number | undefined;
}

export interface EdnsOption {
  readonly code: number;
  readonly data: Buffer;
}

export interface Edns {
  /** Advertised UDP payload size (RFC 6891 §6.2.3). */
  readonly udpSize: number;
  /** DNSSEC OK (RFC 3225). */
  readonly do?: boolean | undefined;
  readonly version?: number | undefined;
  readonly options?: readonly EdnsOption[] | undefined;
}

/** A message to encode: dns-packet's Packet shape plus opcode, rcode and EDNS. */
export interface WireMessage {
  readonly id?: number | undefined;
  readonly type?: 'query' | 'response' | undefined;
  /** Header flag bits (AA, TC, RD, RA, AD, CD); opcode and rcode bits here are used as fallbacks. */
  readonly flags?: number | undefined;
  readonly opcode?: OpcodeName | number | string | undefined;
  /** Full 12-bit rcode; values above 15 need EDNS, which is added when missing. */
  readonly rcode?: RcodeName | number | string | undefined;
  readonly questions?: readonly WireQuestion[] | undefined;
  readonly answers?: readonly WireRecord[] | undefined;
  readonly authorities?: readonly WireRecord[] | undefined;
  /** OPT records here (dns-packet's shape) are honoured unless `edns` is given. */
  readonly additionals?: readonly WireRecord[] | undefined;
  readonly edns?: Edns | undefined;
}

export interface EncodeOptions {
  /** Overrides the message's opcode. */
  readonly opcode?: OpcodeName | number | undefined;
  /**
   * Largest message to produce (the client's UDP size, or 65535 on TCP). Whole RRsets are
   * dropped from the end to fit; TC is set when answer or authority data was dropped
   * (dropping additional data alone does not set TC, RFC 2181 §9). The OPT record stays.
   */
  readonly maxSize?: number | undefined;
  /**
   * Dropping additional data also sets TC: for referrals, whose glue for in-domain name
   * servers must be complete or the answer marked truncated (RFC 9471 §3).
   */
  readonly additionalRequired?: boolean | undefined;
  /** Compress names (default true). */
  readonly compress?: boolean | undefined;
  /**
   * Match compression targets case-insensitively (default false). Case-sensitive matching
   * preserves each name's case exactly, as BIND does by default.
   */
  readonly caseInsensitiveCompression?: boolean | undefined;
}

/** Types whose rdata names may be compressed (RFC 3597 §4: the RFC 1035 types only). */
const COMPRESSIBLE = new Set(['NS', 'CNAME', 'PTR', 'MX', 'SOA', 'MD', 'MF', 'MB', 'MG', 'MR', 'MINFO']);

function objectField(data: unknown, key: string): unknown {
  return typeof data === 'object' && data !== null ? (data as Record<string, unknown>)[key] : undefined;
}

function numField(data: unknown, key: string): number {
  const v = objectField(data, key);
  return typeof v === 'number' ? v : 0;
}

function strField(data: unknown, key: string): string {
  const v = objectField(data, key);
  return typeof v === 'string' ? v : '';
}

function writeRdata(w: Writer, type: string, data: unknown): void {
  const lenAt = w.off;
  if (COMPRESSIBLE.has(type)) {
    w.u16(0);
    switch (type) {
      case 'MX':
        w.u16(numField(data, 'preference'));
        w.name(strField(data, 'exchange'), true);
        break;
      case 'SOA': {
        w.name(strField(data, 'mname'), true);
        const rname = strField(data, 'rname');
        if (rname.includes('\\')) {
          // An escaped dot in the mailbox's local part: dns-packet's mail encoding, uncompressed.
          const codec = packet as unknown as { name: { encode(n: string, b?: Buffer, o?: number, opts?: { mail: boolean }): Buffer } };
          w.bytes(codec.name.encode(rname, undefined, 0, { mail: true }));
        } else {
          w.name(rname, true);
        }
        for (const f of ['serial', 'refresh', 'retry', 'expire', 'minimum']) w.u32(numField(data, f));
        break;
      }
      case 'MINFO':
        w.name(strField(data, 'rmailbx'), true);
        w.name(strField(data, 'emailbx'), true);
        break;
      default:
        w.name(typeof data === 'string' ? data : '', true);
    }
    w.buf.writeUInt16BE(w.off - lenAt - 2, lenAt);
    return;
  }
  const codec = rdataCodec(type);
  let len: number;
  try {
    len = codec.encodingLength(data ?? Buffer.alloc(0));
    w.ensure(len);
    codec.encode(data ?? Buffer.alloc(0), w.buf, w.off);
  } catch (e) {
    throw new WireError(`cannot encode ${type} rdata: ${(e as Error).message}`, { cause: e });
  }
  w.off += codec.encode.bytes;
}

function writeRecord(w: Writer, rr: WireRecord): void {
  w.name(rr.name, true);
  const type = rr.type.toUpperCase();
  w.u16(typeCode(type));
  w.u16(classCode(rr.class));
  w.u32(rr.ttl ?? 0);
  writeRdata(w, type, rr.data);
}

interface OptShape {
  type: string;
  udpPayloadSize?: number;
  extendedRcode?: number;
  ednsVersion?: number;
  flags?: number;
  flag_do?: boolean;
  options?: Array<{ code: number | string; data?: Buffer }>;
}

/** EDNS from the message: explicit `edns`, else an OPT record among the additionals. */
function ednsOf(msg: WireMessage): { edns: Edns | undefined; flags: number } {
  if (msg.edns !== undefined) return { edns: msg.edns, flags: msg.edns.do ? EDNS_DO : 0 };
  const opt = msg.additionals?.find((r) => r.type.toUpperCase() === 'OPT') as OptShape | undefined;
  if (opt === undefined) return { edns: undefined, flags: 0 };
  const options = (opt.options ?? []).map((o) => {
    if (typeof o.code !== 'number' || o.data === undefined) throw new WireError('EDNS options need a numeric code and data');
    return { code: o.code, data: o.data };
  });
  const flags = (opt.flags ?? 0) | (opt.flag_do ? EDNS_DO : 0);
  return { edns: { udpSize: opt.udpPayloadSize ?? 1232, do: (flags & EDNS_DO) !== 0, version: opt.ednsVersion ?? 0, options }, flags };
}

function optLength(edns: Edns): number {
  let n = 11;
  for (const o of edns.options ?? []) n += 4 + o.data.length;
  return n;
}

function writeOpt(w: Writer, edns: Edns, flags: number, extendedRcode: number): void {
  w.u8(0);
  w.u16(TYPE_OPT);
  w.u16(edns.udpSize);
  w.u8(extendedRcode);
  w.u8(edns.version ?? 0);
  w.u16(flags);
  const options = edns.options ?? [];
  let len = 0;
  for (const o of options) len += 4 + o.data.length;
  w.u16(len);
  for (const o of options) {
    w.u16(o.code);
    w.u16(o.data.length);
    w.bytes(o.data);
  }
}

function resolveOpcode(msg: WireMessage, opts: EncodeOptions): number {
  const o = opts.opcode ?? msg.opcode;
  if (o === undefined) return ((msg.flags ?? 0) >> 11) & 0xf;
  if (typeof o === 'number') return o & 0xf;
  const known = (Opcode as Record<string, number>)[o.toUpperCase()];
  if (known !== undefined) return known;
  const m = /^OPCODE_([0-9]+)$/i.exec(o);
  if (m) return Number(m[1]) & 0xf;
  throw new WireError(`unknown opcode ${o}`);
}

function resolveRcode(msg: WireMessage): number {
  const r = msg.rcode;
  if (r === undefined) return (msg.flags ?? 0) & 0xf;
  if (typeof r === 'number') return r & 0xfff;
  const known = (Rcode as Record<string, number>)[r.toUpperCase()];
  if (known !== undefined) return known;
  const m = /^RCODE_([0-9]+)$/i.exec(r);
  if (m) return Number(m[1]) & 0xfff;
  throw new WireError(`unknown rcode ${r}`);
}

/** Start offsets of each RRset in `records` (consecutive records of one name/type/class). */
function isNewRRset(prev: WireRecord | undefined, rr: WireRecord): boolean {
  return prev === undefined || prev.name !== rr.name || prev.type !== rr.type || prev.class !== rr.class;
}

/**
 * Encodes a message with name compression, opcode, rcode (extended through EDNS) and, with
 * `maxSize`, truncation by whole RRsets.
 */
export function encodeMessage(msg: WireMessage, opts: EncodeOptions = {}): Buffer {
  const w = new Writer(opts.compress ?? true, opts.caseInsensitiveCompression ?? false);
  const opcode = resolveOpcode(msg, opts);
  const rcode = resolveRcode(msg);
  const fromMsg = ednsOf(msg);
  const optFlags = fromMsg.flags;
  // Extended rcodes (RFC 6891 §6.1.3) exist only in an OPT record: add one when missing.
  const edns = fromMsg.edns ?? (rcode > 15 ? { udpSize: 1232 } : undefined);
  const limit = Math.min(opts.maxSize ?? 65535, 65535);
  const budget = limit - (edns === undefined ? 0 : optLength(edns));

  w.ensure(12);
  w.off = 12;
  const questions = msg.questions ?? [];
  for (const q of questions) {
    w.name(q.name, true);
    w.u16(typeCode(q.type.toUpperCase()));
    w.u16(classCode(q.class));
  }
  if (w.off > budget) throw new WireError(`question alone exceeds ${limit} octets`);

  const sections = [msg.answers ?? [], msg.authorities ?? [], (msg.additionals ?? []).filter((r) => r.type.toUpperCase() !== 'OPT')];
  const counts = [0, 0, 0];
  let truncated = false;
  let tc = false;
  for (let s = 0; s < 3 && !truncated; s++) {
    const records = sections[s] ?? [];
    let setStart = w.off;
    let setCount = counts[s] ?? 0;
    let prev: WireRecord | undefined;
    for (const rr of records) {
      if (isNewRRset(prev, rr)) {
        setStart = w.off;
        setCount = counts[s] ?? 0;
      }
      prev = rr;
      writeRecord(w, rr);
      counts[s] = (counts[s] ?? 0) + 1;
      if (w.off > budget) {
        // Roll back to the start of this RRset; drop it and everything after it.
        w.off = setStart;
        w.forgetFrom(setStart);
        counts[s] = setCount;
        truncated = true;
        if (s < 2 || opts.additionalRequired === true) tc = true;
        break;
      }
    }
  }
  if (edns !== undefined) writeOpt(w, edns, optFlags, (rcode >> 4) & 0xff);

  const flagWord =
    (msg.type === 'response' ? FLAG_QR : 0) | (opcode << 11) | ((msg.flags ?? 0) & FLAG_BITS) | (tc ? FLAG_TC : 0) | (rcode & 0xf);
  const b = w.buf;
  b.writeUInt16BE((msg.id ?? 0) & 0xffff, 0);
  b.writeUInt16BE(flagWord, 2);
  b.writeUInt16BE(questions.length, 4);
  b.writeUInt16BE(counts[0] ?? 0, 6);
  b.writeUInt16BE(counts[1] ?? 0, 8);
  b.writeUInt16BE((counts[2] ?? 0) + (edns === undefined ? 0 : 1), 10);
  return Buffer.from(b.subarray(0, w.off));
}


/** The decoder lives apart (wire-decode.ts); one import gives both halves of the codec. */
export { decodeMessage, type DecodedEdns, type DecodedMessage } from './wire-decode.js';
