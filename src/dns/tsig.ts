/**
 * TSIG (RFC 8945) over raw wire bytes. Signing appends the TSIG RR to an encoded message and
 * bumps ARCOUNT; verifying finds the TSIG RR (it must be the last additional record), checks
 * key, MAC and time, and returns the message without it. Working on bytes rather than on a
 * decoded packet is the point: the MAC covers exactly the octets that travel, so re-encoding
 * (which could change compression or case) would break interoperability with BIND and Knot.
 */
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { readWireName, skipWireName, WireNameError } from './wire-names.js';
import { ALGORITHMS, canonicalKeyName as canonical, TsigKeyFileError, type TsigKey, type TsigKeyring } from './tsig-keys.js';

export { formatKeyFile, isTsigAlgorithm, keyring, parseKeyFile, parseKeySpec, TsigKeyFileError, type TsigAlgorithm, type TsigKey, type TsigKeyring } from './tsig-keys.js';

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

// ---------------------------------------------------------------------------------------------
// Wire helpers (self-contained: this module is a leaf)


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

function u16(buf: Uint8Array, o: number): number {
  if (o + 2 > buf.length) throw new Malformed('truncated');
  return ((buf[o] as number) << 8) | (buf[o + 1] as number);
}

function u48(buf: Uint8Array, o: number): number {
  if (o + 6 > buf.length) throw new Malformed('truncated');
  return u16(buf, o) * 2 ** 32 + ((buf[o + 2] as number) * 2 ** 24 + (((buf[o + 3] as number) << 16) | ((buf[o + 4] as number) << 8) | (buf[o + 5] as number)));
}

function put48(n: number): Buffer {
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
function unsignedPart(msg: Uint8Array, tsig: TsigRecord): Buffer {
  const out = Buffer.from(msg.subarray(0, tsig.start));
  out.writeUInt16BE(tsig.originalId, 0);
  out.writeUInt16BE(out.readUInt16BE(10) - 1, 10);
  return out;
}

interface Variables {
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
function variablesWire(v: Variables): Buffer {
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

function timersWire(timeSigned: number, fudge: number): Buffer {
  return Buffer.concat([put48(timeSigned), be16(fudge)]);
}

function macWithLength(mac: Buffer): Buffer {
  const b = Buffer.allocUnsafe(2 + mac.length);
  b.writeUInt16BE(mac.length, 0);
  mac.copy(b, 2);
  return b;
}

/** Importing a raw secret costs more than the HMAC itself; keep one KeyObject per key. */
const keyObjects = new WeakMap<Buffer, KeyObject>();

function secretKey(secret: Buffer): KeyObject {
  let k = keyObjects.get(secret);
  if (!k) {
    k = createSecretKey(secret);
    keyObjects.set(secret, k);
  }
  return k;
}

function hmac(key: TsigKey, parts: readonly Uint8Array[]): Buffer {
  const h = createHmac(ALGORITHMS[key.algorithm].hash, secretKey(key.secret));
  for (const p of parts) h.update(p);
  return h.digest();
}

function tsigRR(v: Variables, mac: Buffer, originalId: number): Buffer {
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

function appendRR(msg: Uint8Array, rr: Buffer): Buffer {
  const out = Buffer.concat([msg, rr]);
  out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
  return out;
}

export const DEFAULT_FUDGE = 300;

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

// ---------------------------------------------------------------------------------------------
// Signing

export interface SignOptions {
  /** Seconds since the epoch; defaults to now. */
  readonly time?: number;
  readonly fudge?: number;
  /** For a response: the MAC of the request it answers (RFC 8945 §5.3). */
  readonly requestMac?: Buffer;
  /** TSIG error to report (BADTIME responses are signed). */
  readonly error?: number;
  readonly otherData?: Buffer;
}

export interface Signed {
  readonly wire: Buffer;
  readonly mac: Buffer;
}

/** Signs a complete message (request or single response). */
export function sign(msg: Uint8Array, key: TsigKey, opts: SignOptions = {}): Signed {
  const v: Variables = {
    keyName: key.name,
    algorithm: key.algorithm,
    timeSigned: opts.time ?? nowSeconds(),
    fudge: opts.fudge ?? DEFAULT_FUDGE,
    error: opts.error ?? 0,
    otherData: opts.otherData ?? Buffer.alloc(0),
  };
  const parts: Uint8Array[] = [];
  if (opts.requestMac) parts.push(macWithLength(opts.requestMac));
  parts.push(msg, variablesWire(v));
  const mac = hmac(key, parts);
  return { wire: appendRR(msg, tsigRR(v, mac, u16(msg, 0))), mac };
}

/**
 * A TSIG record with no MAC, for BADKEY/BADSIG answers: the server cannot (BADKEY) or must
 * not (BADSIG) sign with a key it could not verify (RFC 8945 §5.3.2).
 */
export function appendUnsignedTsig(msg: Uint8Array, request: TsigRecord, error: number): Buffer {
  const v: Variables = { keyName: request.keyName, algorithm: request.algorithm, timeSigned: request.timeSigned, fudge: request.fudge, error, otherData: Buffer.alloc(0) };
  return appendRR(msg, tsigRR(v, Buffer.alloc(0), u16(msg, 0)));
}

/**
 * Signs the messages of one TCP response stream (AXFR/IXFR): the first with the request MAC
 * and all variables, each later one with the prior MAC, the message and the timers only
 * (RFC 8945 §5.3.1). Every message is signed, so no unsigned stretch needs covering.
 */
export class TsigStreamSigner {
  private prior: Buffer | undefined;
  constructor(
    private readonly key: TsigKey,
    private readonly requestMac: Buffer,
    private readonly clock: () => number = nowSeconds,
  ) {}

  sign(msg: Uint8Array): Buffer {
    if (this.prior === undefined) {
      const s = sign(msg, this.key, { requestMac: this.requestMac, time: this.clock() });
      this.prior = s.mac;
      return s.wire;
    }
    const time = this.clock();
    const mac = hmac(this.key, [macWithLength(this.prior), msg, timersWire(time, DEFAULT_FUDGE)]);
    this.prior = mac;
    const v: Variables = { keyName: this.key.name, algorithm: this.key.algorithm, timeSigned: time, fudge: DEFAULT_FUDGE, error: 0, otherData: Buffer.alloc(0) };
    return appendRR(msg, tsigRR(v, mac, u16(msg, 0)));
  }
}

// ---------------------------------------------------------------------------------------------
// Verification

export interface VerifyOptions {
  /** Seconds since the epoch; defaults to now. */
  readonly now?: number;
  /** When verifying a response: the MAC of our request. */
  readonly requestMac?: Buffer;
}

export interface Verified {
  /** The message without the TSIG RR (ARCOUNT decremented, ID as received). */
  readonly message: Buffer;
  readonly tsig: TsigRecord;
  readonly key: TsigKey;
}

function checkMac(key: TsigKey, tsig: TsigRecord, expected: Buffer): void {
  const full = ALGORITHMS[key.algorithm].size;
  const got = tsig.mac;
  // Truncated MACs are allowed down to max(10, half) octets (RFC 8945 §5.2.2.1).
  if (got.length > full || got.length < Math.max(10, Math.ceil(full / 2))) {
    throw new TsigError(got.length > full ? 'FORMERR' : 'BADTRUNC', `MAC of ${got.length} octets for ${key.algorithm}`, tsig);
  }
  if (!timingSafeEqual(got, expected.subarray(0, got.length))) throw new TsigError('BADSIG', `MAC does not verify with key ${key.name}`, tsig);
}

function checkTime(tsig: TsigRecord, now: number): void {
  if (Math.abs(now - tsig.timeSigned) > tsig.fudge) {
    throw new TsigError('BADTIME', `signed at ${tsig.timeSigned}, now ${now}, fudge ${tsig.fudge}`, tsig);
  }
}

function stripped(msg: Uint8Array, tsig: TsigRecord): Buffer {
  const out = Buffer.from(msg.subarray(0, tsig.start));
  out.writeUInt16BE(out.readUInt16BE(10) - 1, 10);
  return out;
}

function lookupKey(keys: TsigKeyring, tsig: TsigRecord): TsigKey {
  const key = keys.get(tsig.keyName);
  if (!key || key.algorithm !== tsig.algorithm) throw new TsigError('BADKEY', `unknown key ${tsig.keyName} (${tsig.algorithm})`, tsig);
  return key;
}

/**
 * Verifies a signed message: key (BADKEY), MAC (BADSIG), then time (BADTIME), in RFC 8945
 * §5.2's order. Throws TsigError when the message is unsigned (code BADKEY with no `tsig`)
 * or fails; a verified message is returned without its TSIG.
 */
export function verify(msg: Uint8Array, keys: TsigKeyring, opts: VerifyOptions = {}): Verified {
  const tsig = findTsig(msg);
  if (!tsig) throw new TsigError('BADKEY', 'message is not signed');
  const key = lookupKey(keys, tsig);
  // A response carrying BADKEY/BADSIG has no MAC to check; report the peer's verdict.
  if (opts.requestMac && tsig.mac.length === 0 && tsig.error !== 0) {
    throw new TsigError(errorName(tsig.error), `peer refused our signature (${errorName(tsig.error)})`, tsig);
  }
  const parts: Uint8Array[] = [];
  if (opts.requestMac) parts.push(macWithLength(opts.requestMac));
  parts.push(unsignedPart(msg, tsig), variablesWire(tsig));
  checkMac(key, tsig, hmac(key, parts));
  checkTime(tsig, opts.now ?? nowSeconds());
  if (tsig.error !== 0) throw new TsigError(errorName(tsig.error), `peer reported ${errorName(tsig.error)}`, tsig);
  return { message: stripped(msg, tsig), tsig, key };
}

function errorName(code: number): TsigErrorName {
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

/**
 * Verifies the messages of one TCP response stream. Unsigned messages in between are
 * tolerated (up to 99, RFC 8945 §5.3.1) and covered by the next signed one; call `finish()`
 * after the last message: a stream must end signed.
 */
export class TsigStreamVerifier {
  private prior: Buffer;
  private unsigned: Buffer[] = [];
  private first = true;
  constructor(
    private readonly key: TsigKey,
    requestMac: Buffer,
    private readonly clock: () => number = nowSeconds,
  ) {
    this.prior = requestMac;
  }

  /** Returns the message without its TSIG (or as is, when unsigned and allowed). */
  verify(msg: Uint8Array): Buffer {
    const tsig = findTsig(msg);
    if (!tsig) {
      if (this.first) throw new TsigError('BADKEY', 'first message of the stream is not signed');
      if (this.unsigned.length >= 99) throw new TsigError('BADSIG', 'more than 99 unsigned messages in a row');
      this.unsigned.push(Buffer.from(msg));
      return Buffer.from(msg);
    }
    if (tsig.keyName !== this.key.name || tsig.algorithm !== this.key.algorithm) throw new TsigError('BADKEY', `stream switched to key ${tsig.keyName}`, tsig);
    if (tsig.mac.length === 0 && tsig.error !== 0) throw new TsigError(errorName(tsig.error), `peer refused our signature (${errorName(tsig.error)})`, tsig);
    const parts: Uint8Array[] = [macWithLength(this.prior), ...this.unsigned, unsignedPart(msg, tsig)];
    parts.push(this.first ? variablesWire(tsig) : timersWire(tsig.timeSigned, tsig.fudge));
    checkMac(this.key, tsig, hmac(this.key, parts));
    checkTime(tsig, this.clock());
    if (tsig.error !== 0) throw new TsigError(errorName(tsig.error), `peer reported ${errorName(tsig.error)}`, tsig);
    this.prior = tsig.mac;
    this.unsigned = [];
    this.first = false;
    return stripped(msg, tsig);
  }

  finish(): void {
    if (this.first || this.unsigned.length > 0) throw new TsigError('BADSIG', 'stream does not end with a signed message');
  }
}

/**
 * The TSIG part of a refusal. Given the encoded NOTAUTH response to a request that failed
 * verification, returns it with the right TSIG: BADTIME signed with the request MAC and the
 * server's time in Other Data; BADKEY/BADSIG/BADTRUNC with an empty MAC; none when the
 * request carried no TSIG at all.
 */
export function tsigErrorResponse(response: Uint8Array, err: TsigError, keys: TsigKeyring, now: number = nowSeconds()): Buffer {
  const req = err.tsig;
  if (!req || err.code === 'FORMERR') return Buffer.from(response);
  const key = keys.get(req.keyName);
  if (err.code === 'BADTIME' && key) {
    // Time Signed echoes the request's so the client can match it; Other Data is our clock.
    return sign(response, key, { requestMac: req.mac, time: req.timeSigned, fudge: req.fudge, error: TsigRcode.BADTIME, otherData: put48(now) }).wire;
  }
  return appendUnsignedTsig(response, req, err.tsigRcode);
}

/** Reads the server time carried in a BADTIME response's Other Data. */
export function badtimeServerTime(tsig: TsigRecord): number | undefined {
  return tsig.otherData.length === 6 ? u48(tsig.otherData, 0) : undefined;
}
