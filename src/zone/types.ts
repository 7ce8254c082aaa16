/**
 * The contract between the zone model and its users (agent server, sync engine). Snapshots
 * are immutable: a reader holding one sees the old zone or the new one, never half.
 */
import type { RR } from '../dns/rr.js';

/** IXFR-shaped change: everything in `deleted` leaves, then everything in `added` enters. */
export interface ZoneDiff {
  readonly origin: string;
  readonly fromSerial: number;
  readonly toSerial: number;
  /** The SOA the zone has after the diff (serial = toSerial); its timers may change too. */
  readonly soa: RR;
  /** Removed records, not including the old SOA. */
  readonly deleted: readonly RR[];
  /** Added records, not including the new SOA. */
  readonly added: readonly RR[];
}

export type LookupResult =
  /** Data found (possibly after following an in-zone CNAME chain, which leads `answer`). */
  | { readonly kind: 'answer'; readonly answer: readonly RR[]; readonly authority: readonly RR[]; readonly additional: readonly RR[] }
  /** Name exists (or is an empty non-terminal, RFC 8020) but not with this type. */
  | { readonly kind: 'nodata'; readonly answer: readonly RR[]; readonly authority: readonly RR[] }
  /** Name does not exist; `answer` holds any CNAME chain that led here. */
  | { readonly kind: 'nxdomain'; readonly answer: readonly RR[]; readonly authority: readonly RR[] }
  /** Name lies under a delegation (NS below the apex): referral, not authoritative. */
  | { readonly kind: 'referral'; readonly authority: readonly RR[]; readonly additional: readonly RR[] };

export interface ZoneSnapshot {
  /** Canonical zone name (lower-case, no trailing dot). */
  readonly origin: string;
  readonly serial: number;
  readonly soa: RR;
  /** Number of records, SOA included. */
  readonly size: number;
  /** Authoritative lookup by RFC 1034 4.3.2 with RFC 4592 wildcards and RFC 8020 ENTs. */
  lookup(qname: string, qtype: string): LookupResult;
  /** Every record, SOA first (AXFR order). */
  records(): Iterable<RR>;
}
