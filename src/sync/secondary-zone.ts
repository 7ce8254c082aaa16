/**
 * One zone as the agent's sync side keeps it, and the pure decisions made about it: where a
 * NOTIFY moves its primary, what a NOTIFY makes us do (apply its diff, pull, or just answer),
 * and how long to wait before the next SOA check.
 */
import type { SoaRdata } from '../dns/rdata.js';
import type { ZoneDiff, ZoneSnapshot } from '../zone/types.js';
import type { Endpoint } from './client.js';
import { serialGt } from './serials.js';

export interface StaticZone {
  readonly origin: string;
  /** The primary to pull from and to accept unsigned NOTIFYs from (when no key is set). */
  readonly primary: Endpoint;
}

/** What `Secondary.zoneStates()` reports of one zone. */
export interface SecondaryZoneState {
  readonly origin: string;
  readonly primary: Endpoint | undefined;
  readonly serial: number | undefined;
  readonly synced: boolean;
  readonly static: boolean;
  readonly lastError: string | undefined;
}

export interface ZoneState {
  readonly origin: string;
  primary: Endpoint | undefined;
  readonly isStatic: boolean;
  synced: boolean;
  /** The running pull, which concurrent callers share. */
  pulling: Promise<void> | undefined;
  /** Pull once more when the running pull ends. */
  again: boolean;
  timer: NodeJS.Timeout | undefined;
  lastError: string | undefined;
  /** Signing time of the newest NOTIFY that set `primary` (a replay is never newer). */
  primarySince: number;
  /** Serial announced by the NOTIFY that started the running pull, which will fetch at least it. */
  covers: number | undefined;
  /** The primary's term when that pull started: a serial covers nothing across terms. */
  coversTerm: bigint;
  /** Leadership term of `primary` (0: none, a standard primary). */
  primaryTerm: bigint;
  /** Term of the leader the data we hold came from (see fencing.ts). */
  dataTerm: bigint;
  /** When the zone was last confirmed with its primary (ms since the epoch). */
  confirmedAt: number;
  /** Fires when confirmedAt + SOA expire passes (see zone-expiry in SecondaryZones). */
  expireTimer: NodeJS.Timeout | undefined;
  /** Past its SOA expire: held, answered SERVFAIL until confirmed again. */
  expired: boolean;
  /** Serial and primary the state file was last written with: a refresh that only confirms
   * them does not rewrite the zone (a whole-zone encode and a synchronous write, on the thread
   * that answers queries when there are no workers). */
  saved: string | undefined;
}

export function newZoneState(origin: string, isStatic: boolean): ZoneState {
  return { origin, primary: undefined, isStatic, synced: false, pulling: undefined, again: false, timer: undefined, lastError: undefined, primarySince: -1, covers: undefined, coversTerm: 0n, primaryTerm: 0n, dataTerm: 0n, confirmedAt: 0, expireTimer: undefined, expired: false, saved: undefined };
}

export function endpointText(e: Endpoint | undefined): string | undefined {
  return e && `${e.host}:${e.port}`;
}

/** What the state file was last written for: a confirmation that changes none of it is not written. */
export function savedKey(st: ZoneState, serial: number | undefined): string {
  return `${serial}@${endpointText(st.primary) ?? ''}#${st.primaryTerm}/${st.dataTerm}`;
}

/**
 * A dynamic zone follows its primary (a controller failover moves it), but only to the
 * endpoint of a NOTIFY signed later than any before: a replayed NOTIFY, valid within the
 * fudge window, cannot point us elsewhere. A newer term always moves it: that is a new
 * leader, wherever it serves from.
 */
export function followPrimary(st: ZoneState, to: Endpoint, term: bigint, timeSigned: number): void {
  const moved = st.primary === undefined || st.primary.host !== to.host || st.primary.port !== to.port;
  if (st.primary === undefined || term > st.primaryTerm || (moved && timeSigned > st.primarySince)) {
    st.primary = to;
    st.primaryTerm = term;
  }
  if (timeSigned > st.primarySince) st.primarySince = timeSigned;
}

/** What a verified NOTIFY makes us do. */
export type NotifyPlan =
  /** Its diff starts at our serial: apply it (a pull follows only if it does not apply). */
  | 'apply'
  /** Transfer the zone. */
  | 'pull'
  /** Nothing to fetch: answer with the SOA we serve. */
  | 'answer';

export function planNotify(current: ZoneSnapshot | undefined, diff: ZoneDiff | undefined, announced: number | undefined, olderData: boolean): NotifyPlan {
  if (diff && current && diff.fromSerial === current.serial && !olderData) return 'apply';
  // Our data came from an older leadership term than this NOTIFY: our serial may name other
  // data at this leader (a deposed leader, paused, woke and pushed its S+1 after the new one
  // probed us at S, and the new leader's first serial is S+1 too). Neither a diff from our
  // serial nor "the same serial" then says we hold its data: we transfer the zone whole.
  if (olderData && announced === current?.serial) return 'pull';
  // Already there (a retransmission, or a diff we applied meanwhile) — or ahead with an
  // older leader's data: the answer then reports that term, and the new leader resumes
  // past our serial (fencing.ts); a pull now would only be answered with the same serial.
  if (current && announced !== undefined && !serialGt(announced, current.serial)) return 'answer';
  // A diff from a base we are past: the primary has not yet heard our ACK (its retry, or
  // the next change, crossed it). Our answer tells it where we are and it sends the rest
  // from there; a pull would be a TCP transfer for what one more datagram carries.
  if (diff && current && serialGt(current.serial, diff.fromSerial)) return 'answer';
  return 'pull';
}

/**
 * Whether a NOTIFY announcing `announced` needs another pull after the running one, which
 * started for `st.covers` under `st.coversTerm`. A newer leader's NOTIFY is never covered by a
 * pull from the older one (which may be gone), even for the same serial: its serials name its
 * own data.
 */
export function notCovered(st: ZoneState, announced: number | undefined): boolean {
  return announced === undefined || st.covers === undefined || serialGt(announced, st.covers) || st.primaryTerm !== st.coversTerm;
}

/** Time to the next SOA check after a confirmation (`override`: tests). */
export function refreshMs(soa: SoaRdata | undefined, override: number | undefined): number {
  if (override !== undefined) return override;
  return Math.max(1, soa?.refresh ?? 60) * 1000;
}

/** Time to the next try after a failed pull or check. */
export function retryMs(soa: SoaRdata | undefined, override: number | undefined): number {
  if (override !== undefined) return override;
  return Math.max(1, soa?.retry ?? 10) * 1000;
}
