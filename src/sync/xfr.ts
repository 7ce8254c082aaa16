/**
 * Zone transfers as record sequences, independent of sockets: what a primary answers to
 * AXFR (RFC 5936) and IXFR (RFC 1995), split into messages; and the client-side collector
 * that turns the received records back into "up to date", a full zone, or a list of diffs.
 */
import type { Packet, Question } from 'dns-packet';
import type { RR } from '../dns/rr.js';
import type { ZoneDiff, ZoneSnapshot } from '../zone/types.js';
import { encode, encodedLength, flags, soaSerial, withSerial } from './codec.js';
import type { Journal } from './journal.js';

/** Keep each TCP message well under 64 KiB (RFC 5936 §2.2 allows up to 65535). */
const MESSAGE_BUDGET = 16_000;
const HEADER_AND_QUESTION = 12 + 260 + 4;

export type XfrKind = 'axfr' | 'ixfr' | 'ixfr-axfr' | 'ixfr-uptodate';

/** The answer records of an AXFR: SOA, everything else, SOA. */
export function axfrRecords(zone: ZoneSnapshot): RR[] {
  const out: RR[] = [];
  for (const rr of zone.records()) out.push(rr);
  out.push(zone.soa);
  return out;
}

/**
 * The answer records of an IXFR from `clientSerial`: the current SOA alone when the client
 * is up to date, one condensed step when the journal reaches its serial, the AXFR form otherwise.
 */
export function ixfrRecords(zone: ZoneSnapshot, journal: Journal, clientSerial: number): { kind: XfrKind; records: RR[] } {
  if (clientSerial >>> 0 === zone.serial) return { kind: 'ixfr-uptodate', records: [zone.soa] };
  const diff = journal.diffFrom(clientSerial);
  if (!diff || diff.toSerial !== zone.serial) return { kind: 'ixfr-axfr', records: axfrRecords(zone) };
  return { kind: 'ixfr', records: [zone.soa, ...diffRecordsInIxfrOrder(diff)] };
}

/** old SOA, deleted, new SOA, added, and the closing new SOA. */
function diffRecordsInIxfrOrder(diff: ZoneDiff): RR[] {
  return [withSerial(diff.soa, diff.fromSerial), ...diff.deleted, diff.soa, ...diff.added, diff.soa];
}

/** Splits answer records into response messages; the question rides in the first only. */
export function xfrMessages(id: number, q: Question, records: readonly RR[]): Buffer[] {
  const out: Buffer[] = [];
  let batch: RR[] = [];
  let size = HEADER_AND_QUESTION;
  const flush = (): void => {
    const p: Packet = { type: 'response', id, flags: flags({ qr: true, aa: true }), questions: out.length === 0 ? [q] : [], answers: batch };
    out.push(encode(p));
    batch = [];
    size = HEADER_AND_QUESTION;
  };
  for (const rr of records) {
    const len = encodedLength(rr);
    if (batch.length > 0 && size + len > MESSAGE_BUDGET) flush();
    batch.push(rr);
    size += len;
  }
  if (batch.length > 0 || out.length === 0) flush();
  return out;
}

export class XfrFormatError extends Error {
  override readonly name = 'XfrFormatError';
}

export type XfrResult =
  | { readonly kind: 'uptodate'; readonly soa: RR }
  | { readonly kind: 'full'; readonly records: RR[] }
  | { readonly kind: 'incremental'; readonly diffs: ZoneDiff[] };

/**
 * Accumulates the answer records of a transfer response stream and says when it is
 * complete. `ixfr` says whether the request was IXFR (then a lone SOA means "up to date").
 */
export class XfrCollector {
  private readonly records: RR[] = [];
  private finalSerial: number | undefined;

  constructor(
    private readonly origin: string,
    private readonly ixfr: boolean,
    private readonly clientSerial?: number,
  ) {}

  /** Adds one message's answers; returns true once the transfer is complete. */
  add(answers: readonly RR[], messageIndex: number): boolean {
    for (const rr of answers) this.records.push(rr);
    const first = this.records[0];
    if (!first) return false;
    if (first.type !== 'SOA' || first.name !== this.origin) throw new XfrFormatError('transfer does not start with the zone SOA');
    this.finalSerial = soaSerial(first);
    if (this.records.length === 1) {
      // A lone SOA in the first message of an IXFR: up to date (or "use AXFR" when newer).
      return this.ixfr && messageIndex === 0 && answers.length === 1 && this.finalSerial === this.clientSerial;
    }
    const last = this.records[this.records.length - 1] as RR;
    if (last.type !== 'SOA' || soaSerial(last) !== this.finalSerial) return false;
    return this.complete();
  }

  private isIncremental(): boolean {
    return this.ixfr && this.records[1]?.type === 'SOA';
  }

  private complete(): boolean {
    if (!this.isIncremental()) return true; // AXFR form: ended by the second SOA(final)
    try {
      this.parseIncremental();
      return true;
    } catch (err) {
      if (err instanceof Incomplete) return false;
      throw err;
    }
  }

  private parseIncremental(): ZoneDiff[] {
    const rs = this.records;
    const diffs: ZoneDiff[] = [];
    let i = 1;
    for (;;) {
      const oldSoa = rs[i];
      if (!oldSoa) throw new Incomplete();
      if (oldSoa.type !== 'SOA') throw new XfrFormatError('IXFR step does not start with an SOA');
      const from = soaSerial(oldSoa) as number;
      if (from === this.finalSerial && i === rs.length - 1 && diffs.length > 0) return diffs;
      let j = i + 1;
      while (j < rs.length && (rs[j] as RR).type !== 'SOA') j++;
      const newSoa = rs[j];
      if (!newSoa) throw new Incomplete();
      let k = j + 1;
      while (k < rs.length && (rs[k] as RR).type !== 'SOA') k++;
      if (k >= rs.length) throw new Incomplete();
      diffs.push({ origin: this.origin, fromSerial: from, toSerial: soaSerial(newSoa) as number, soa: newSoa, deleted: rs.slice(i + 1, j), added: rs.slice(j + 1, k) });
      i = k;
      if (soaSerial(newSoa) === this.finalSerial) {
        if (i !== rs.length - 1) throw new XfrFormatError('records after the final SOA');
        return diffs;
      }
    }
  }

  result(): XfrResult {
    const first = this.records[0];
    if (!first) throw new XfrFormatError('empty transfer');
    if (this.records.length === 1) return { kind: 'uptodate', soa: first };
    if (this.isIncremental()) return { kind: 'incremental', diffs: this.parseIncremental() };
    return { kind: 'full', records: this.records.slice(0, -1) };
  }
}

class Incomplete extends Error {}
