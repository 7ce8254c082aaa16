/**
 * The agent's side of an incremental transfer: asking for one (a primary that cannot answer
 * IXFR makes us fall back to AXFR), and applying the diffs it returned to what we hold now.
 */
import type { RR } from '../dns/rr.js';
import { applyDiff } from '../zone/diff.js';
import { DiffBaseError, DiffConflictError, ZoneError } from '../zone/errors.js';
import type { ZoneDiff, ZoneSnapshot } from '../zone/types.js';
import type { Auth } from './auth.js';
import { PeerRcodeError, pullZone, type Endpoint } from './client.js';
import { RCODE } from './codec.js';
import { serialGt } from './serials.js';
import { XfrFormatError, type XfrResult } from './xfr.js';

/** An IXFR from `soa`; undefined when the primary cannot serve one (then AXFR). */
export async function requestIxfr(primary: Endpoint, origin: string, soa: RR, auth: Auth, timeoutMs: number): Promise<XfrResult | undefined> {
  try {
    return await pullZone(primary, origin, soa, auth, timeoutMs);
  } catch (err) {
    if (err instanceof PeerRcodeError && (err.rcode === RCODE.NOTIMP || err.rcode === RCODE.FORMERR)) return undefined;
    if (err instanceof XfrFormatError) return undefined;
    throw err;
  }
}

export type IxfrApplied =
  /** The new snapshot to install. */
  | { readonly kind: 'applied'; readonly snap: ZoneSnapshot }
  /** We hold the last diff's serial already (a NOTIFY diff got us there while we transferred). */
  | { readonly kind: 'there' }
  /** The zone moved while we transferred: ask again from where it is. */
  | { readonly kind: 'moved' }
  /** The diffs do not fit our data: AXFR. */
  | { readonly kind: 'conflict'; readonly error: Error };

export function applyIxfrDiffs(held: ZoneSnapshot, diffs: readonly ZoneDiff[]): IxfrApplied {
  const last = diffs[diffs.length - 1];
  if (last && !serialGt(last.toSerial, held.serial)) return { kind: 'there' };
  let snap = held;
  try {
    for (const d of diffs) snap = applyDiff(snap, d);
  } catch (err) {
    if (err instanceof DiffBaseError) return { kind: 'moved' };
    if (err instanceof DiffConflictError || err instanceof ZoneError) return { kind: 'conflict', error: err };
    throw err;
  }
  return { kind: 'applied', snap };
}
