/**
 * The TSIG resource record on the wire (RFC 8945 §4): its error codes, finding and reading
 * it in a message, and writing it and the variables its MAC covers. The MAC itself (HMAC,
 * keys, signing and verifying in order) is tsig.ts's.
 */
import { readWireName, skipWireName, WireNameError } from './wire-names.js';
import { canonicalKeyName as canonical, TsigKeyFileError } from './tsig-keys.js';

export const TSIG_TYPE = 250;
const CLASS_ANY = 255;

/** TSIG error codes (RFC 8945 §3 / IANA). The message's RCODE is NOTAUTH (9) for all of them. */
export const TsigRcode = { NOERROR: 0, BADSIG: 16, BADKEY: 17, BADTIME: 18, BADTRUNC: 22 } as const;
export type TsigErrorName = 'BADSIG' | 'BADKEY' | 'BADTIME' | 'BADTRUNC' | 'FORMERR';

/** A message TSIG refuses; `code` is the TSIG error to report (FORMERR: malformed TSIG). */
export class TsigError extends Error {
  override readonly name = 'TsigError';
  constructor(
    readonly code: TsigErrorName,
    message: string,
    /** The TSIG record found in the request, when there was one (needed to answer it). */
    readonly tsig?: TsigRecord,
  ) {
    super(`TSIG ${code}: ${message}`);
  }
  get tsigRcode(): number {
    return this.code === 'FORMERR' ? 0 : TsigRcode[this.code];
  }
}

/** The decoded TSIG RR plus where it sits in the message. */
export interface TsigRecord {
  readonly keyName: string;
  readonly algorithm: string;
  /** Seconds since the epoch (48-bit on the wire). */
  readonly timeSigned: number;
  readonly fudge: number;
  readonly mac: Buffer;
  readonly originalId: number;
  readonly error: number;
  readonly otherData: Buffer;
  /** Offset of the TSIG RR in the message; everything before it is what was signed. */
  readonly start: number;
}

/** Key and algorithm names recur in every message: encode each once. */
const nameCache = new Map<string, Buffer>();

/** Uncompressed, lower-case wire form, as TSIG digests require (RFC 8945 §4.3.2). */
export function nameWire(name: string): Buffer {
  const hit = nameCache.get(name);
  if (hit) return hit;
  const out = encodeName(name);
  if (nameCache.size < 1000) nameCache.set(name, out);
  return out;
}

function encodeName(name: string): Buffer {
  const n = canonical(name);
  if (n === '') return Buffer.from([0]);
  const parts = n.split('.').map((l) => Buffer.from(l, 'ascii'));
  const out = Buffer.alloc(parts.reduce((s, p) => s + p.length + 1, 0) + 1);
  let o = 0;
  for (const p of parts) {
    if (p.length === 0 || p.length > 63) throw new TsigKeyFileError(`bad label in '${name}'`);
    out[o++] = p.length;
    p.copy(out, o);
    o += p.length;
  }
  out[o] = 0;
  return out;
}

class Malformed extends Error {}

export function u16(buf: Uint8Array, o: number): number {
  if (o + 2 > buf.length) throw new Malformed('truncated');
  return ((buf[o] as number) << 8) | (buf[o + 1] as number);
}

function u48(buf: Uint8Array, o: number): number {
  if (o + 6 > buf.length) throw new Malformed('truncated');
  return u16(buf, o) * 2 ** 32 + ((buf[o + 2] as number) * 2 ** 24 + (((buf[o + 3] as number) << 16) | ((buf[o + 4] as number) << 8) | (buf[o + 5] as number)));
}

export function put48(n: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUInt16BE(Math.floor(n / 2 ** 32) & 0xffff, 0);
  b.writeUInt32BE(n % 2 ** 32, 2);
  return b;
}

function be16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n & 0xffff);
  return b;
}

/**
 * Finds the TSIG RR. Returns undefined when the message has none; throws TsigError(FORMERR)
 * when a TSIG record is present but not the last additional record, or is malformed.
 */
export function findTsig(msg: Uint8Array): TsigRecord | undefined {
  try {
    if (msg.length < 12) throw new Malformed('short header');
    const qd = u16(msg, 4);
    const an = u16(msg, 6);
    const ns = u16(msg, 8);
    const ar = u16(msg, 10);
    if (ar === 0) return undefined;
    let o = 12;
    for (let i = 0; i < qd; i++) o = skipWireName(msg, o) + 4;
    const total = an + ns + ar;
    for (let i = 0; i < total; i++) {
      const start = o;
      o = skipWireName(msg, o);
      const type = u16(msg, o);
      const rdlen = u16(msg, o + 8);
      const rdStart = o + 10;
      const rdEnd = rdStart + rdlen;
      if (rdEnd > msg.length) throw new Malformed('rdata runs past the end');
      if (type === TSIG_TYPE) {
        if (i !== total - 1) throw new TsigError('FORMERR', 'TSIG is not the last record');
        if (u16(msg, o + 2) !== CLASS_ANY) throw new TsigError('FORMERR', 'TSIG class is not ANY');
        const keyName = readWireName(msg, start).name;
        const alg = readWireName(msg, rdStart);
        let p = alg.end;
        const timeSigned = u48(msg, p);
        const fudge = u16(msg, p + 6);
        const macSize = u16(msg, p + 8);
        p += 10;
        if (p + macSize > rdEnd) throw new Malformed('MAC runs past the rdata');
        const mac = Buffer.from(msg.subarray(p, p + macSize));
        p += macSize;
        const originalId = u16(msg, p);
        const error = u16(msg, p + 2);
        const otherLen = u16(msg, p + 4);
        p += 6;
        if (p + otherLen !== rdEnd) throw new Malformed('TSIG rdata length mismatch');
        const otherData = Buffer.from(msg.subarray(p, p + otherLen));
        if (rdEnd !== msg.length) throw new TsigError('FORMERR', 'bytes after the TSIG record');
        return { keyName, algorithm: alg.name, timeSigned, fudge, mac, originalId, error, otherData, start };
      }
      o = rdEnd;
    }
    return undefined;
  } catch (err) {
    if (err instanceof Malformed || err instanceof WireNameError) throw new TsigError('FORMERR', err.message);
    throw err;
  }
}

/** The message as it was before signing: TSIG removed, ARCOUNT back, the original ID restored. */
export function unsignedPart(msg: Uint8Array, tsig: TsigRecord): Buffer {
  const out = Buffer.from(msg.subarray(0, tsig.start));
  out.writeUInt16BE(tsig.originalId, 0);
  out.writeUInt16BE(out.readUInt16BE(10) - 1, 10);
  return out;
}

export interface Variables {
  readonly keyName: string;
  readonly algorithm: string;
  readonly timeSigned: number;
  readonly fudge: number;
  readonly error: number;
  readonly otherData: Buffer;
}

/** Writes a 48-bit time at `o` (callers pass non-negative seconds). */
function write48(b: Buffer, n: number, o: number): void {
  b.writeUInt16BE(Math.floor(n / 2 ** 32) & 0xffff, o);
  b.writeUInt32BE(n % 2 ** 32, o + 2);
}

// Built in one buffer each rather than concatenated from small pieces: every NOTIFY and every
// answer to one is signed or verified, a hundred per change at the primary.
export function variablesWire(v: Variables): Buffer {
  const key = nameWire(v.keyName);
  const alg = nameWire(v.algorithm);
  const b = Buffer.allocUnsafe(key.length + 6 + alg.length + 12 + v.otherData.length);
  let o = key.copy(b, 0);
  o = b.writeUInt16BE(CLASS_ANY, o);
  o = b.writeUInt32BE(0, o);
  o += alg.copy(b, o);
  write48(b, v.timeSigned, o);
  o += 6;
  o = b.writeUInt16BE(v.fudge & 0xffff, o);
  o = b.writeUInt16BE(v.error & 0xffff, o);
  o = b.writeUInt16BE(v.otherData.length, o);
  v.otherData.copy(b, o);
  return b;
}

export function timersWire(timeSigned: number, fudge: number): Buffer {
  return Buffer.concat([put48(timeSigned), be16(fudge)]);
}

export function macWithLength(mac: Buffer): Buffer {
  const b = Buffer.allocUnsafe(2 + mac.length);
  b.writeUInt16BE(mac.length, 0);
  mac.copy(b, 2);
  return b;
}

export function stripped(msg: Uint8Array, tsig: TsigRecord): Buffer {
  const out = Buffer.from(msg.subarray(0, tsig.start));
  out.writeUInt16BE(out.readUInt16BE(10) - 1, 10);
  return out;
}

export function tsigRR(v: Variables, mac: Buffer, originalId: number): Buffer {
  const key = nameWire(v.keyName);
  const alg = nameWire(v.algorithm);
  const rdlen = alg.length + 10 + mac.length + 6 + v.otherData.length;
  const b = Buffer.allocUnsafe(key.length + 10 + rdlen);
  let o = key.copy(b, 0);
  o = b.writeUInt16BE(TSIG_TYPE, o);
  o = b.writeUInt16BE(CLASS_ANY, o);
  o = b.writeUInt32BE(0, o);
  o = b.writeUInt16BE(rdlen, o);
  o += alg.copy(b, o);
  write48(b, v.timeSigned, o);
  o += 6;
  o = b.writeUInt16BE(v.fudge & 0xffff, o);
  o = b.writeUInt16BE(mac.length, o);
  o += mac.copy(b, o);
  o = b.writeUInt16BE(originalId & 0xffff, o);
  o = b.writeUInt16BE(v.error & 0xffff, o);
  o = b.writeUInt16BE(v.otherData.length, o);
  v.otherData.copy(b, o);
  return b;
}

export function appendRR(msg: Uint8Array, rr: Buffer): Buffer {
  const out = Buffer.concat([msg, rr]);
  out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
  return out;
}

export function errorName(code: number): TsigErrorName {
  switch (code) {
    case TsigRcode.BADSIG:
      return 'BADSIG';
    case TsigRcode.BADKEY:
      return 'BADKEY';
    case TsigRcode.BADTIME:
      return 'BADTIME';
    case TsigRcode.BADTRUNC:
      return 'BADTRUNC';
    default:
      return 'FORMERR';
  }
}

/** Reads the server time carried in a BADTIME response's Other Data. */
export function badtimeServerTime(tsig: TsigRecord): number | undefined {
  return tsig.otherData.length === 6 ? u48(tsig.otherData, 0) : undefined;
}
