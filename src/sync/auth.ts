/**
 * The TSIG policy both ends apply to an incoming request: verify it, or produce the refusal
 * (NOTAUTH with the TSIG error, RFC 8945 §5.2) without touching anything else. A verified
 * request is also checked against the replay cache: a copy of one already taken is refused
 * as BADTIME, the error RFC 8945 §5.2.3 names for replays. Responses we send to a verified
 * request are signed with its MAC; responses to our requests are bound to our MAC, so a
 * replayed response cannot answer any request but the one it answered.
 */
import { TsigError, keyring, nowSeconds, sign, tsigErrorResponse, verify, type TsigKey, type TsigKeyring } from '../dns/tsig.js';
import { counter } from '../observability/metrics.js';
import { RCODE, errorResponse } from './codec.js';
import { ReplayCache } from './replay-cache.js';

export const tsigFailures = counter<'error' | 'role'>({
  name: 'dnssync_sync_tsig_failures_total',
  help: 'Messages refused or ignored because their TSIG did not verify, by TSIG error (REPLAY: a copy of a signed message already taken) and by which side saw it',
  labelNames: ['error', 'role'],
});

export class Auth {
  readonly ring: TsigKeyring;
  /** The key we sign with: the first one configured. */
  readonly signingKey: TsigKey | undefined;

  private readonly replays: ReplayCache;

  constructor(
    keys: readonly TsigKey[],
    private readonly role: 'primary' | 'secondary',
    private readonly clock: () => number = nowSeconds,
    replayCacheEntries?: number,
  ) {
    this.ring = keyring(keys);
    this.signingKey = keys[0];
    this.replays = new ReplayCache(replayCacheEntries);
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
      const now = this.clock();
      const v = verify(raw, this.ring, { now });
      const seen = this.replays.admit(v.key.name, v.tsig.mac, v.tsig.timeSigned, v.tsig.fudge, now);
      if (!seen.fresh) {
        tsigFailures.inc({ error: 'REPLAY', role: this.role });
        const err = new TsigError('BADTIME', `replayed: ${seen.reason ?? ''}`, v.tsig);
        const base = errorResponse(raw, RCODE.NOTAUTH);
        return { ok: false, error: 'REPLAY', reason: err.message, response: base && tsigErrorResponse(base, err, this.ring, now) };
      }
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

  /** Signs a request of ours (at our clock's time); returns the MAC to verify the answer with. */
  request(msg: Buffer): { wire: Buffer; mac: Buffer | undefined } {
    if (!this.signingKey) return { wire: msg, mac: undefined };
    const s = sign(msg, this.signingKey, { time: this.clock() });
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
