/**
 * The TSIG policy both ends apply to an incoming request: verify it, or produce the refusal
 * (NOTAUTH with the TSIG error, RFC 8945 §5.2) without touching anything else. Responses we
 * send to a verified request are signed with its MAC.
 */
import { TsigError, keyring, sign, tsigErrorResponse, verify, type TsigKey, type TsigKeyring } from '../dns/tsig.js';
import { counter } from '../observability/metrics.js';
import { RCODE, errorResponse } from './codec.js';

export const tsigFailures = counter<'error' | 'role'>({
  name: 'dnssync_sync_tsig_failures_total',
  help: 'Messages refused or ignored because their TSIG did not verify, by TSIG error and by which side saw it',
  labelNames: ['error', 'role'],
});

export class Auth {
  readonly ring: TsigKeyring;
  /** The key we sign with: the first one configured. */
  readonly signingKey: TsigKey | undefined;

  constructor(
    keys: readonly TsigKey[],
    private readonly role: 'primary' | 'secondary',
  ) {
    this.ring = keyring(keys);
    this.signingKey = keys[0];
  }

  get enabled(): boolean {
    return this.signingKey !== undefined;
  }

  /**
   * Checks a request. `ok` with the message stripped of its TSIG and the request MAC when
   * signed; `ok` and unsigned when `allowUnsigned`; otherwise the refusal to send back.
   */
  check(raw: Buffer, allowUnsigned: boolean): AuthOk | AuthRefused {
    try {
      const v = verify(raw, this.ring);
      return { ok: true, message: v.message, mac: v.tsig.mac, key: v.key, timeSigned: v.tsig.timeSigned };
    } catch (err) {
      if (!(err instanceof TsigError)) throw err;
      if (!err.tsig && err.code !== 'FORMERR' && allowUnsigned) return { ok: true, message: raw };
      const error = err.tsig ? err.code : 'UNSIGNED';
      tsigFailures.inc({ error, role: this.role });
      const base = errorResponse(raw, err.code === 'FORMERR' ? RCODE.FORMERR : RCODE.NOTAUTH);
      return { ok: false, error, reason: err.message, response: base && tsigErrorResponse(base, err, this.ring) };
    }
  }

  /** Signs a response to a verified request; unsigned requests get unsigned answers. */
  answer(response: Buffer, req: AuthOk): Buffer {
    if (!req.key || !req.mac) return response;
    return sign(response, req.key, { requestMac: req.mac }).wire;
  }

  /** Signs a request of ours; returns the MAC to verify the answer with. */
  request(msg: Buffer): { wire: Buffer; mac: Buffer | undefined } {
    if (!this.signingKey) return { wire: msg, mac: undefined };
    const s = sign(msg, this.signingKey);
    return { wire: s.wire, mac: s.mac };
  }

  /** Verifies a response to our request; unsigned responses pass only when we have no key. */
  response(raw: Buffer, requestMac: Buffer | undefined): Buffer {
    if (!requestMac) return raw;
    try {
      return verify(raw, this.ring, { requestMac }).message;
    } catch (err) {
      if (err instanceof TsigError) tsigFailures.inc({ error: err.tsig ? err.code : 'UNSIGNED', role: this.role });
      throw err;
    }
  }
}

export interface AuthOk {
  readonly ok: true;
  readonly message: Buffer;
  readonly mac?: Buffer;
  readonly key?: TsigKey;
  /** When the request was signed (seconds), for ordering signed requests. */
  readonly timeSigned?: number;
}

export interface AuthRefused {
  readonly ok: false;
  readonly error: string;
  readonly reason: string;
  /** Undefined when the request was too broken to answer. */
  readonly response: Buffer | undefined;
}
