/**
 * A zone as the primary serves it: the current snapshot, its journal, its SOA parameters and
 * what is encoded once per serial (NOTIFYs by base serial, transfer answers by question).
 * Both caches are emptied when the serial moves (commit).
 */
import type { ZoneSnapshot } from '../zone/types.js';
import type { Journal } from './journal.js';
import type { SoaParams } from './primary-types.js';
import type { XfrKind } from './xfr.js';

export interface ServedZone {
  snapshot: ZoneSnapshot;
  readonly journal: Journal;
  params: SoaParams;
  /**
   * Encoded NOTIFYs for the current serial by base serial ('plain' for none): a hundred
   * agents mostly share one base, so each change is encoded once and only signed per agent.
   */
  readonly notifies: Map<string, CachedNotify>;
  /**
   * Encoded transfer answers for the current serial (ID 0, unsigned) by type, base serial and
   * question: agents handed a plain NOTIFY for a large change all pull the same transfer,
   * which is encoded once and only re-stamped and signed per request.
   */
  readonly transfers: Map<string, CachedTransfer>;
}

export interface CachedTransfer {
  readonly kind: XfrKind;
  readonly messages: readonly Buffer[];
}

export interface SignedCopy {
  readonly wire: Buffer;
  readonly mac: Buffer | undefined;
}

export interface CachedNotify {
  readonly bytes: Buffer;
  readonly kind: 'diff' | 'leg' | 'plain';
  readonly from: number | undefined;
  /** The serial it brings an agent to: the zone's, or a leg's end on the way there. */
  readonly to: number;
  /**
   * The same message signed (ID 0), shared by every agent at this base serial: TSIG covers
   * the Original ID field, not the header ID (RFC 8945 §4.3.1), so each agent's copy only
   * gets its own ID written over the header; verifiers restore the Original ID before the
   * MAC. Re-signed when the second changes, so a retry never carries an old time.
   */
  signed: (SignedCopy & { readonly second: number }) | undefined;
}
