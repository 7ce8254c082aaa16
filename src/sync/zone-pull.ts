/**
 * Pulling one zone from its primary: IXFR from the data we hold when it is of the primary's
 * leadership term, AXFR otherwise or when IXFR cannot; a transfer from a term superseded
 * while it ran is dropped and the pull runs again. secondary-zones.ts owns the zone states
 * and hears the outcome (synced, or failed: retried on the SOA retry timer).
 */
import type { RR } from '../dns/rr.js';
import type { Logger } from '../observability/logger.js';
import { buildSnapshot } from '../zone/snapshot.js';
import type { ZoneStore } from '../zone/store.js';
import type { ZoneSnapshot } from '../zone/types.js';
import type { Auth } from './auth.js';
import { pullZone, type Endpoint } from './client.js';
import { applyIxfrDiffs, requestIxfr } from './ixfr-apply.js';
import { updatesApplied } from './metrics.js';
import { notCovered, type ZoneState } from './secondary-zone.js';
import { serialGt } from './serials.js';
import { XfrFormatError } from './xfr.js';

/** What a pull needs of the agent's zones. */
export interface PullHost {
  readonly store: Pick<ZoneStore, 'get' | 'set'>;
  readonly auth: Auth;
  readonly log: Logger;
  readonly transferTimeoutMs?: number | undefined;
  closed(): boolean;
  /** The pull confirmed the zone: installed, applied, or already up to date. */
  synced(st: ZoneState, how: string): void;
  failed(st: ZoneState, err: unknown, why: string): void;
}

/**
 * Brings the zone up to date with its primary; concurrent calls share one run. A call for
 * a serial the running pull already covers (the primary retransmitting the NOTIFY that
 * started it while we transfer) does not queue another pull.
 */
export function syncZone(h: PullHost, st: ZoneState, why: string, announced?: number): Promise<void> {
  if (st.pulling) {
    if (notCovered(st, announced)) st.again = true;
    return st.pulling;
  }
  st.covers = announced;
  st.coversTerm = st.primaryTerm;
  st.pulling = (async () => {
    do {
      st.again = false;
      await pullOnce(h, st, why);
      st.covers = undefined;
    } while (st.again && !h.closed());
  })().finally(() => {
    st.pulling = undefined;
  });
  return st.pulling;
}

async function pullOnce(h: PullHost, st: ZoneState, why: string): Promise<void> {
  const primary = st.primary;
  if (!primary || h.closed()) return;
  const timeout = h.transferTimeoutMs ?? 10_000;
  const current = h.store.get(st.origin);
  const term = st.primaryTerm;
  try {
    // IXFR only from data of this leader's term: from an older term's data our serial may
    // name other contents at this leader (see planNotify), and its diffs would not apply to ours.
    if (current && st.dataTerm === term) {
      const done = await tryIxfr(h, st, primary, current, timeout, term);
      if (done) return;
    }
    const r = await pullZone(primary, st.origin, undefined, h.auth, timeout);
    if (r.kind !== 'full') throw new XfrFormatError('AXFR did not return a zone');
    if (supersededDuring(h, st, term)) return;
    installFull(h, st, r.records, 'axfr', term);
  } catch (err) {
    h.failed(st, err, why);
  }
}

/**
 * A transfer from a leader whose term has since been superseded (a newer leader's NOTIFY
 * arrived while it ran) is not installed: the pull runs again, from the new leader.
 */
function supersededDuring(h: PullHost, st: ZoneState, term: bigint): boolean {
  if (st.primaryTerm === term) return false;
  h.log.info({ zone: st.origin, term: String(term), now: String(st.primaryTerm) }, 'transfer from an older leadership term dropped');
  st.again = true;
  return true;
}

/** True when IXFR settled the matter; false when AXFR must follow. */
async function tryIxfr(h: PullHost, st: ZoneState, primary: Endpoint, current: ZoneSnapshot, timeout: number, term: bigint): Promise<boolean> {
  const r = await requestIxfr(primary, st.origin, current.soa, h.auth, timeout);
  if (r === undefined) return false;
  if (supersededDuring(h, st, term)) return true;
  if (r.kind === 'uptodate') {
    // Not a reason to take `term` as our data's: a serial ahead of the leader's (an older
    // leader's later push) is also "up to date" to it.
    h.synced(st, 'ixfr');
    return true;
  }
  if (r.kind === 'full') {
    installFull(h, st, r.records, 'ixfr', term);
    return true;
  }
  const applied = applyIxfrDiffs(h.store.get(st.origin) ?? current, r.diffs);
  if (applied.kind === 'moved') st.again = true;
  if (applied.kind === 'there') h.synced(st, 'ixfr');
  if (applied.kind === 'conflict') {
    h.log.warn({ zone: st.origin, serial: current.serial, err: applied.error.message }, 'IXFR does not apply; falling back to AXFR');
    return false;
  }
  if (applied.kind !== 'applied') return true;
  h.store.set(applied.snap);
  st.dataTerm = term;
  updatesApplied.inc({ how: 'ixfr' });
  h.synced(st, 'ixfr');
  return true;
}

function installFull(h: PullHost, st: ZoneState, records: RR[], how: 'axfr' | 'ixfr', term: bigint): void {
  const snap = buildSnapshot(st.origin, records);
  const cur = h.store.get(st.origin);
  if (!cur || serialGt(snap.serial, cur.serial) || snap.serial === cur.serial) {
    h.store.set(snap);
    st.dataTerm = term;
  }
  updatesApplied.inc({ how: how === 'ixfr' ? 'ixfr' : 'axfr' });
  h.synced(st, how);
}
