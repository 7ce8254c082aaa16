/**
 * TSIG (RFC 8945) over raw wire bytes. Signing appends the TSIG RR to an encoded message and
 * bumps ARCOUNT; verifying finds the TSIG RR (it must be the last additional record), checks
 * key, MAC and time, and returns the message without it. Working on bytes rather than on a
 * decoded packet is the point: the MAC covers exactly the octets that travel, so re-encoding
 * (which could change compression or case) would break interoperability with BIND and Knot.
 */
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { ALGORITHMS, type TsigKey, type TsigKeyring } from './tsig-keys.js';
import { appendRR, errorName, findTsig, macWithLength, put48, stripped, timersWire, TsigError, TsigRcode, tsigRR, u16, unsignedPart, variablesWire, type TsigRecord, type Variables } from './tsig-record.js';

export { formatKeyFile, isTsigAlgorithm, keyring, parseKeyFile, parseKeySpec, TsigKeyFileError, type TsigAlgorithm, type TsigKey, type TsigKeyring } from './tsig-keys.js';
export { badtimeServerTime, findTsig, nameWire, TSIG_TYPE, TsigError, TsigRcode, type TsigErrorName, type TsigRecord } from './tsig-record.js';

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
