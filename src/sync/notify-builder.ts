/**
 * Builds the NOTIFY an agent at a given serial gets, once per serial and base (cached on the
 * zone), and signs it once per second for every agent at that base: a diff from the base when
 * it fits one datagram, else the first leg of the way that does, else a plain NOTIFY (the
 * agent pulls IXFR).
 */
import { nowSeconds } from '../dns/tsig.js';
import type { ZoneDiff } from '../zone/types.js';
import type { Auth } from './auth.js';
import { notifyMessage } from './codec.js';
import { TOO_LARGE } from './journal.js';
import type { LeaderInfo } from './leader-info.js';
import { STREAM_MAX_NOTIFY } from './push-stream.js';
import { inZoneLength } from './serial-policy.js';
import type { CachedNotify, ServedZone, SignedCopy } from './served-zone.js';

/** Most records (condensed) an agent may be behind and still catch up by legs. */
export const LEG_MAX_RECORDS = 512;

/** Smallest possible resource record on the wire. */
const MIN_RR_WIRE = 11;

export class NotifyBuilder {
  constructor(
    private readonly auth: Auth,
    private readonly info: LeaderInfo | undefined,
    /** Largest signed NOTIFY that carries a diff. */
    readonly maxNotify: number,
  ) {}

  /** The NOTIFY (ID 0, unsigned) for agents at serial `from`, encoded once per serial. */
  notifyFor(z: ServedZone, from: number | undefined): CachedNotify {
    const key = from === undefined ? 'plain' : String(from);
    const hit = z.notifies.get(key);
    if (hit) return hit;
    const out = (from !== undefined && (this.diffNotify(z, from) ?? this.legNotify(z, from))) || { bytes: notifyMessage(0, z.snapshot.soa, undefined, this.info), kind: 'plain', from: undefined, to: z.snapshot.serial, signed: undefined };
    z.notifies.set(key, out);
    return out;
  }

  /**
   * For an agent's push stream (push-stream.ts): everything since `from` in one NOTIFY of up to
   * STREAM_MAX_NOTIFY bytes; undefined when the journal has no way from there or it is larger
   * (the agent then gets what notifyFor gives). Encoded once per serial and base.
   */
  streamNotifyFor(z: ServedZone, from: number): CachedNotify | undefined {
    const key = `stream ${from}`;
    let n = z.notifies.get(key);
    if (!n) {
      const diff = z.journal.diffWithin(from, Math.floor(STREAM_MAX_NOTIFY / MIN_RR_WIRE));
      const fits = diff && diff !== TOO_LARGE && diff.toSerial === z.snapshot.serial ? this.fitting(z, diff, STREAM_MAX_NOTIFY) : undefined;
      // 'plain' marks "none" in the cache: such an agent is sent what notifyFor gives.
      n = fits ?? { bytes: Buffer.alloc(0), kind: 'plain', from: undefined, to: z.snapshot.serial, signed: undefined };
      z.notifies.set(key, n);
    }
    return n.kind === 'diff' ? n : undefined;
  }

  /** Bytes a step's records may take, uncompressed, for its NOTIFY to fit one datagram. */
  stepRoom(z: ServedZone): number {
    const soa = z.snapshot.soa;
    const empty = notifyMessage(0, soa, { origin: z.snapshot.origin, fromSerial: z.snapshot.serial, toSerial: z.snapshot.serial, soa, deleted: [], added: [] }, this.info);
    return this.maxNotify - this.auth.request(empty).wire.length;
  }

  /** `n` signed (ID 0), shared by every agent at its base within the current second. */
  signed(n: CachedNotify): SignedCopy {
    const second = nowSeconds();
    if (n.signed?.second !== second) n.signed = { ...this.auth.request(n.bytes), second };
    return n.signed;
  }

  /** A NOTIFY carrying everything since `from`, when that fits one datagram. */
  private diffNotify(z: ServedZone, from: number): CachedNotify | undefined {
    // A record takes at least 11 bytes on the wire (root or pointer name, type, class, TTL,
    // rdlength), so a diff with more records cannot fit: skip building and encoding it.
    const diff = z.journal.diffWithin(from, Math.floor(this.maxNotify / MIN_RR_WIRE));
    if (!diff || diff === TOO_LARGE || diff.toSerial !== z.snapshot.serial) return undefined;
    return this.fitting(z, diff);
  }

  /**
   * For an agent whose way to the current serial does not fit one datagram: a NOTIFY for the
   * first leg that does (announcing the leg's serial). Its answer reports that serial and the
   * next leg follows at once, so an agent that fell behind under a sustained stream of
   * changes catches up over UDP in a few round trips instead of dropping to a TCP pull; one
   * change too large for a datagram still goes as a plain NOTIFY (the agent pulls it).
   */
  private legNotify(z: ServedZone, from: number): CachedNotify | undefined {
    const room = this.stepRoom(z);
    if (room <= 0) return undefined;
    // Legs go one per round trip; an agent further behind than a few of them catches up
    // sooner with one IXFR (a plain NOTIFY), which carries any amount per round trip.
    if (z.journal.diffWithin(from, LEG_MAX_RECORDS) === TOO_LARGE) return undefined;
    const diff = z.journal.diffPrefix(from, room, inZoneLength(z.snapshot.origin));
    return diff && this.fitting(z, diff);
  }

  /** The encoded NOTIFY carrying `diff`, if it fits `limit` (a datagram) once signed. */
  private fitting(z: ServedZone, diff: ZoneDiff, limit = this.maxNotify): CachedNotify | undefined {
    const bytes = notifyMessage(0, diff.soa, diff, this.info);
    // The TSIG record adds a fixed amount per key; sign once to learn whether it fits.
    const second = nowSeconds();
    const signed = this.auth.request(bytes);
    if (signed.wire.length > limit) return undefined;
    return { bytes, kind: diff.toSerial === z.snapshot.serial ? 'diff' : 'leg', from: diff.fromSerial, to: diff.toSerial, signed: { ...signed, second } };
  }
}

/** A copy of `m` with header ID `id`. */
export function restamped<T extends { readonly wire: Buffer }>(m: T, id: number): T {
  const wire = Buffer.allocUnsafe(m.wire.length);
  m.wire.copy(wire);
  wire.writeUInt16BE(id, 0);
  return { ...m, wire };
}
