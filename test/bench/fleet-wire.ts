/**
 * What a simulated agent of the fleet bench reads from the sync protocol's messages, straight
 * from the bytes: a NOTIFY's announced serial and the shape of the diff it carries (base and
 * new serial, how many records it deletes and adds), and the progress of an IXFR/AXFR
 * stream. A real agent decodes every record and applies it to a zone; a simulated one keeps
 * only its serial and a record count, so it reads no more than that (the records are walked,
 * not decoded). TSIG is verified by the caller with the real code before any of this runs.
 */
import { skipWireName } from '../../src/dns/wire-names.js';

const TYPE_SOA = 6;

export interface RRView {
  readonly type: number;
  /** Start of the whole record (its owner name). */
  readonly start: number;
  /** Start of its rdata. */
  readonly rdata: number;
  /** Offset just after it. */
  readonly end: number;
}

/** The records of a section starting at `offset`, `count` of them. */
export function walk(msg: Buffer, offset: number, count: number): { rrs: RRView[]; end: number } {
  const rrs: RRView[] = [];
  let o = offset;
  for (let i = 0; i < count; i++) {
    const start = o;
    o = skipWireName(msg, o);
    if (o + 10 > msg.length) throw new RangeError('record runs past the end');
    const type = msg.readUInt16BE(o);
    const rdlen = msg.readUInt16BE(o + 8);
    const rdata = o + 10;
    o = rdata + rdlen;
    if (o > msg.length) throw new RangeError('rdata runs past the end');
    rrs.push({ type, start, rdata, end: o });
  }
  return { rrs, end: o };
}

/** Offset of the serial inside an SOA record's rdata (after MNAME and RNAME). */
export function soaSerialAt(msg: Buffer, rr: RRView): number {
  const at = skipWireName(msg, skipWireName(msg, rr.rdata));
  if (at + 20 > rr.end) throw new RangeError('short SOA rdata');
  return at;
}

export function soaSerialOf(msg: Buffer, rr: RRView): number {
  return msg.readUInt32BE(soaSerialAt(msg, rr));
}

/** End of the question section (the first section after the 12-octet header). */
export function questionEnd(msg: Buffer): number {
  const qd = msg.readUInt16BE(4);
  let o = 12;
  for (let i = 0; i < qd; i++) o = skipWireName(msg, o) + 4;
  if (o > msg.length) throw new RangeError('question runs past the end');
  return o;
}

export interface NotifyView {
  readonly qtype: number;
  readonly questionEnd: number;
  /** The SOA record of the answer section (the serial announced), if any. */
  readonly soa: RRView | undefined;
  readonly announced: number | undefined;
  /** The diff in the authority section (IXFR order), when it carries one. */
  readonly diff: { readonly from: number; readonly to: number; readonly deleted: number; readonly added: number } | undefined;
}

/** A NOTIFY (TSIG already stripped) as a simulated agent needs it. */
export function readNotify(msg: Buffer): NotifyView {
  const qEnd = questionEnd(msg);
  const qtype = msg.readUInt16BE(qEnd - 4);
  const an = walk(msg, qEnd, msg.readUInt16BE(6));
  const soa = an.rrs.find((r) => r.type === TYPE_SOA);
  const announced = soa ? soaSerialOf(msg, soa) : undefined;
  const ns = walk(msg, an.end, msg.readUInt16BE(8)).rrs;
  let diff: NotifyView['diff'];
  const first = ns[0];
  if (first && first.type === TYPE_SOA) {
    const second = ns.findIndex((r, i) => i > 0 && r.type === TYPE_SOA);
    if (second > 0) {
      const to = soaSerialOf(msg, ns[second] as RRView);
      if (announced === undefined || announced === to) diff = { from: soaSerialOf(msg, first), to, deleted: second - 1, added: ns.length - second - 1 };
    }
  }
  return { qtype, questionEnd: qEnd, soa, announced, diff };
}

/**
 * Follows one IXFR or AXFR answer stream (RFC 1995 / 5936), message by message: its final
 * serial, whether it is incremental, the net change in record count, and when it is complete.
 * A reply of one SOA only means "you are up to date" (or the zone is empty of changes).
 */
export class XfrWalker {
  final: number | undefined;
  incremental: boolean | undefined;
  /** AXFR: records in the zone (SOA excluded); IXFR: added minus deleted. */
  records = 0;
  complete = false;
  private seen = 0;
  private finalSeen = 0;
  private adding = false;

  /** Feeds one message's answer section; returns true when the stream is complete. */
  add(msg: Buffer): boolean {
    const qEnd = questionEnd(msg);
    const { rrs } = walk(msg, qEnd, msg.readUInt16BE(6));
    for (const rr of rrs) {
      const isSoa = rr.type === TYPE_SOA;
      const serial = isSoa ? soaSerialOf(msg, rr) : undefined;
      if (this.seen === 0) {
        if (!isSoa) throw new RangeError('transfer does not start with an SOA');
        this.final = serial;
        this.finalSeen = 1;
      } else if (this.seen === 1) {
        // IXFR: the old SOA follows the first; AXFR: any other record does (RFC 1995 §4).
        this.incremental = isSoa && serial !== this.final;
        if (isSoa && serial === this.final) {
          // An empty AXFR: SOA, SOA.
          this.complete = true;
        } else if (!this.incremental) this.records++;
      } else if (this.incremental) {
        if (isSoa) {
          this.adding = !this.adding;
          if (serial === this.final && ++this.finalSeen === 3) this.complete = true;
        } else this.records += this.adding ? 1 : -1;
      } else if (isSoa) {
        this.complete = true;
      } else this.records++;
      this.seen++;
      if (this.complete) return true;
    }
    return false;
  }

  /** A stream that ended after its first message with one SOA: nothing newer to send. */
  get upToDate(): boolean {
    return this.seen === 1;
  }
}
