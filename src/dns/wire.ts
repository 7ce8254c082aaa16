/**
 * DNS messages on the wire: what dns-packet lacks. Encoding adds RFC 1035 §4.1.4 name
 * compression, the opcode, extended rcodes through EDNS, and truncation to a size limit;
 * decoding wraps dns-packet so that any malformed input becomes one typed WireError.
 * `readQuestion` reads just the header, first question and EDNS for the server's fast path.
 */
import { createRequire } from 'node:module';
import packet from 'dns-packet';
import { rdataCodec } from './packet-codecs.js';

/** Malformed input or an unencodable message. */
export class WireError extends Error {
  override readonly name = 'WireError';
}

const require = createRequire(import.meta.url);
const typeTable = require('dns-packet/types.js') as { toType(name: string): number; toString(n: number): string };

export const Opcode = { QUERY: 0, IQUERY: 1, STATUS: 2, NOTIFY: 4, UPDATE: 5, DSO: 6 } as const;
export type OpcodeName = keyof typeof Opcode;

export const Rcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  YXDOMAIN: 6,
  YXRRSET: 7,
  NXRRSET: 8,
  NOTAUTH: 9,
  NOTZONE: 10,
  BADVERS: 16,
  BADKEY: 17,
  BADTIME: 18,
  BADMODE: 19,
  BADNAME: 20,
  BADALG: 21,
  BADTRUNC: 22,
  BADCOOKIE: 23,
} as const;
export type RcodeName = keyof typeof Rcode;

const RCODE_NAMES = new Map<number, string>(Object.entries(Rcode).map(([k, v]) => [v, k]));
const OPCODE_NAMES = new Map<number, string>(Object.entries(Opcode).map(([k, v]) => [v, k]));

export function rcodeName(code: number): string {
  return RCODE_NAMES.get(code) ?? `RCODE_${code}`;
}
export function opcodeName(code: number): string {
  return OPCODE_NAMES.get(code) ?? `OPCODE_${code}`;
}

const CLASSES: Record<string, number> = { IN: 1, CS: 2, CH: 3, HS: 4, NONE: 254, ANY: 255 };

export const TYPE_OPT = 41;
export const FLAG_QR = 0x8000;
export const FLAG_AA = 0x0400;
export const FLAG_TC = 0x0200;
export const FLAG_RD = 0x0100;
export const FLAG_RA = 0x0080;
export const FLAG_AD = 0x0020;
export const FLAG_CD = 0x0010;
/** The flag bits of the header word that are neither QR, opcode nor rcode. */
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

const MAX_POINTER = 0x3fff;

class Writer {
  buf: Buffer;
  off = 0;
  readonly table = new Map<string, number>();

  constructor(
    readonly compress: boolean,
    readonly foldCase: boolean,
  ) {
    this.buf = Buffer.allocUnsafe(512);
  }

  ensure(n: number): void {
    if (this.off + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.off + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.off);
    this.buf = next;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.off++] = v & 0xff;
  }
  u16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(v & 0xffff, this.off);
    this.off += 2;
  }
  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.off);
    this.off += 4;
  }
  bytes(b: Buffer): void {
    this.ensure(b.length);
    b.copy(this.buf, this.off);
    this.off += b.length;
  }

  /** Writes a name, compressing against (and adding to) the table when `compressible`. */
  name(raw: string, compressible: boolean): void {
    let name = raw;
    if (name.endsWith('.')) name = name.slice(0, -1);
    if (name.startsWith('.')) name = name.slice(1);
    if (name === '') {
      this.u8(0);
      return;
    }
    if (name.length > 253) throw new WireError(`name too long: ${raw}`);
    const useTable = this.compress && compressible;
    const key = this.foldCase ? name.toLowerCase() : name;
    let start = 0;
    while (start < name.length) {
      if (useTable) {
        const ptr = this.table.get(start === 0 ? key : key.slice(start));
        if (ptr !== undefined) {
          this.u16(0xc000 | ptr);
          return;
        }
        if (this.off <= MAX_POINTER) this.table.set(start === 0 ? key : key.slice(start), this.off);
      }
      let end = name.indexOf('.', start);
      if (end < 0) end = name.length;
      const label = name.slice(start, end);
      const len = Buffer.byteLength(label, 'utf8');
      if (len === 0) throw new WireError(`empty label in ${raw}`);
      if (len > 63) throw new WireError(`label longer than 63 octets in ${raw}`);
      this.ensure(len + 1);
      this.buf[this.off++] = len;
      this.buf.write(label, this.off, 'utf8');
      this.off += len;
      start = end + 1;
    }
    this.u8(0);
  }

  /** Forgets compression targets at or after `offset` (after a rollback). */
  forgetFrom(offset: number): void {
    for (const [k, v] of this.table) if (v >= offset) this.table.delete(k);
  }
}

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
  if (msg.edns !== undefined) return { edns: msg.edns, flags: msg.edns.do ? 0x8000 : 0 };
  const opt = msg.additionals?.find((r) => r.type.toUpperCase() === 'OPT') as OptShape | undefined;
  if (opt === undefined) return { edns: undefined, flags: 0 };
  const options = (opt.options ?? []).map((o) => {
    if (typeof o.code !== 'number' || o.data === undefined) throw new WireError('EDNS options need a numeric code and data');
    return { code: o.code, data: o.data };
  });
  const flags = (opt.flags ?? 0) | (opt.flag_do ? 0x8000 : 0);
  return { edns: { udpSize: opt.udpPayloadSize ?? 1232, do: (flags & 0x8000) !== 0, version: opt.ednsVersion ?? 0, options }, flags };
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

// ---------------------------------------------------------------------------------------
// Decoding

export interface DecodedEdns {
  readonly udpSize: number;
  readonly do: boolean;
  readonly version: number;
  readonly options: ReadonlyArray<{ code: number; data: Buffer }>;
}

/** dns-packet's decoded packet plus opcode, full rcode and EDNS, typed. */
export type DecodedMessage = packet.DecodedPacket & {
  readonly id: number;
  readonly opcode: string;
  readonly opcodeNumber: number;
  /** Header rcode merged with the EDNS extended rcode. */
  readonly rcode: string;
  readonly rcodeNumber: number;
  readonly edns: DecodedEdns | undefined;
  readonly questions: packet.Question[];
  readonly answers: packet.Answer[];
  readonly authorities: packet.Answer[];
  readonly additionals: packet.Answer[];
};

/**
 * Decodes a message. Any malformation (short buffer, label or rdata overrun, forward or
 * looping compression pointer, name longer than 255 octets) is a WireError; nothing else
 * is thrown. dns-packet only accepts pointers to earlier offsets, so pointer chains end.
 */
export function decodeMessage(buf: Buffer): DecodedMessage {
  if (buf.length < 12) throw new WireError(`message shorter than a header (${buf.length} octets)`);
  // A question takes at least 5 octets and a record 11: refuse impossible counts before
  // dns-packet allocates arrays of up to 65535 slots per section for them.
  const minimum = 12 + buf.readUInt16BE(4) * 5 + (buf.readUInt16BE(6) + buf.readUInt16BE(8) + buf.readUInt16BE(10)) * 11;
  if (minimum > buf.length) throw new WireError('section counts exceed the message length');
  const end = structuralEnd(buf);
  if (end < 0) throw new WireError('malformed message: a name or record runs past the end');
  let d: packet.DecodedPacket;
  try {
    d = packet.decode(buf);
  } catch (e) {
    throw new WireError(`malformed message: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  // dns-packet advances by what each type's decoder read, not by RDLENGTH (an A record is
  // always 4 octets to it); a record whose RDLENGTH disagrees would shift every later one.
  if (packet.decode.bytes !== end) throw new WireError('malformed message: RDLENGTH disagrees with the record data');
  const word = buf.readUInt16BE(2);
  const opcodeNumber = (word >> 11) & 0xf;
  const additionals = d.additionals ?? [];
  const opt = additionals.find((a) => a.type === 'OPT') as (packet.OptAnswer & { extendedRcode?: number }) | undefined;
  let edns: DecodedEdns | undefined;
  let rcodeNumber = word & 0xf;
  if (opt !== undefined) {
    rcodeNumber |= (opt.extendedRcode ?? 0) << 4;
    edns = {
      udpSize: opt.udpPayloadSize,
      do: (opt.flags & 0x8000) !== 0,
      version: opt.ednsVersion,
      options: (opt.options ?? []).map((o) => ({ code: o.code as number, data: o.data ?? Buffer.alloc(0) })),
    };
  }
  return {
    ...d,
    id: d.id ?? 0,
    opcode: opcodeName(opcodeNumber),
    opcodeNumber,
    rcode: rcodeName(rcodeNumber),
    rcodeNumber,
    edns,
    questions: d.questions ?? [],
    answers: d.answers ?? [],
    authorities: d.authorities ?? [],
    additionals,
  };
}

// ---------------------------------------------------------------------------------------
// The fast path: header + first question + EDNS, without decoding the message.

export interface QuestionInfo {
  id: number;
  /** The whole 16-bit header word (QR, opcode, flags, rcode). */
  flags: number;
  opcode: number;
  qdcount: number;
  ancount: number;
  nscount: number;
  arcount: number;
  /** Offset and wire length (terminal zero included) of the uncompressed qname. */
  qnameOffset: number;
  qnameLength: number;
  qtype: number;
  qclass: number;
  /** Offset just past the first question. */
  questionEnd: number;
  /** EDNS: present, its UDP size (≥ 512 as RFC 6891 requires), DO bit and version. */
  edns: boolean;
  udpSize: number;
  dnssecOk: boolean;
  ednsVersion: number;
  /** The message carries a TSIG record (type 250) as its last additional. */
  tsig: boolean;
}

export function newQuestionInfo(): QuestionInfo {
  return {
    id: 0,
    flags: 0,
    opcode: 0,
    qdcount: 0,
    ancount: 0,
    nscount: 0,
    arcount: 0,
    qnameOffset: 12,
    qnameLength: 0,
    qtype: 0,
    qclass: 0,
    questionEnd: 0,
    edns: false,
    udpSize: 512,
    dnssecOk: false,
    ednsVersion: 0,
    tsig: false,
  };
}

/** Skips a possibly compressed name; returns the offset after it, or -1 when malformed. */
function skipName(buf: Buffer, off: number): number {
  let total = 0;
  for (;;) {
    if (off >= buf.length) return -1;
    const len = buf[off] as number;
    if (len === 0) return off + 1;
    if ((len & 0xc0) === 0xc0) return off + 2 <= buf.length ? off + 2 : -1;
    if ((len & 0xc0) !== 0) return -1;
    total += len + 1;
    if (total > 255) return -1;
    off += len + 1;
  }
}

/** The offset just past the last record, walking by RDLENGTH; -1 when something overruns. */
function structuralEnd(buf: Buffer): number {
  const n = buf.length;
  let off = 12;
  const qd = buf.readUInt16BE(4);
  for (let i = 0; i < qd; i++) {
    off = skipName(buf, off);
    if (off < 0 || off + 4 > n) return -1;
    off += 4;
  }
  const rrs = buf.readUInt16BE(6) + buf.readUInt16BE(8) + buf.readUInt16BE(10);
  for (let i = 0; i < rrs; i++) {
    off = skipName(buf, off);
    if (off < 0 || off + 10 > n) return -1;
    off += 10 + buf.readUInt16BE(off + 8);
    if (off > n) return -1;
  }
  return off;
}

/**
 * Reads the header, the first question and the EDNS OPT record of a query into `out`
 * (reused, so the fast path allocates nothing). Returns undefined when the message is
 * malformed or has no question; the qname must be uncompressed (it always is in a query).
 */
export function readQuestion(buf: Buffer, out: QuestionInfo = newQuestionInfo()): QuestionInfo | undefined {
  const n = buf.length;
  if (n < 12) return undefined;
  out.id = buf.readUInt16BE(0);
  out.flags = buf.readUInt16BE(2);
  out.opcode = (out.flags >> 11) & 0xf;
  out.qdcount = buf.readUInt16BE(4);
  out.ancount = buf.readUInt16BE(6);
  out.nscount = buf.readUInt16BE(8);
  out.arcount = buf.readUInt16BE(10);
  out.edns = false;
  out.udpSize = 512;
  out.dnssecOk = false;
  out.ednsVersion = 0;
  out.tsig = false;
  if (out.qdcount === 0) return undefined;
  let off = 12;
  out.qnameOffset = 12;
  for (;;) {
    if (off >= n) return undefined;
    const len = buf[off] as number;
    if (len === 0) {
      off++;
      break;
    }
    if (len > 63) return undefined;
    off += len + 1;
    if (off - 12 > 254) return undefined;
  }
  out.qnameLength = off - 12;
  if (off + 4 > n) return undefined;
  out.qtype = buf.readUInt16BE(off);
  out.qclass = buf.readUInt16BE(off + 2);
  off += 4;
  out.questionEnd = off;
  if (out.arcount === 0) return out;
  // Further questions (rare) and the answer/authority records of a query are skipped.
  for (let i = 1; i < out.qdcount; i++) {
    off = skipName(buf, off);
    if (off < 0 || off + 4 > n) return undefined;
    off += 4;
  }
  const total = out.ancount + out.nscount + out.arcount;
  const firstAdditional = out.ancount + out.nscount;
  for (let i = 0; i < total; i++) {
    off = skipName(buf, off);
    if (off < 0 || off + 10 > n) return undefined;
    const type = buf.readUInt16BE(off);
    const rdlen = buf.readUInt16BE(off + 8);
    if (i >= firstAdditional) {
      if (type === TYPE_OPT) {
        out.edns = true;
        out.udpSize = Math.max(512, buf.readUInt16BE(off + 2));
        out.ednsVersion = buf[off + 5] as number;
        out.dnssecOk = (buf.readUInt16BE(off + 6) & 0x8000) !== 0;
      } else if (type === 250 && i === total - 1) {
        out.tsig = true;
      }
    }
    off += 10 + rdlen;
    if (off > n) return undefined;
  }
  return out;
}

/**
 * A string key for the question: lower-cased qname wire bytes, qtype and qclass, as latin1.
 * One short string per call: the cache key the fast path looks answers up by.
 */
export function questionKey(buf: Buffer, q: QuestionInfo): string {
  let s = '';
  const end = q.qnameOffset + q.qnameLength;
  for (let i = q.qnameOffset; i < end; i++) {
    const c = buf[i] as number;
    s += String.fromCharCode(c >= 65 && c <= 90 ? c + 32 : c);
  }
  return s + String.fromCharCode(q.qtype >> 8, q.qtype & 0xff, q.qclass >> 8, q.qclass & 0xff);
}

/** The qname in dotted text (as asked, case kept, no trailing dot; root = ''). */
export function qnameText(buf: Buffer, q: QuestionInfo): string {
  const parts: string[] = [];
  let off = q.qnameOffset;
  for (;;) {
    const len = buf[off] as number;
    if (len === 0 || len === undefined) break;
    parts.push(buf.toString('latin1', off + 1, off + 1 + len));
    off += len + 1;
  }
  return parts.join('.');
}
