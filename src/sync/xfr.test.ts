import { describe, expect, it } from 'vitest';
import { canonicalRR } from '../dns/rdata.js';
import type { RR } from '../dns/rr.js';
import { buildSnapshot } from '../zone/snapshot.js';
import { Journal } from './journal.js';
import { XfrCollector, XfrFormatError, axfrRecords, ixfrRecords, xfrMessages } from './xfr.js';
import { decode, sectionRRs } from './codec.js';

const O = 'x.test';
const a = (n: string, ip: string): RR => canonicalRR({ name: `${n}.${O}`, type: 'A', ttl: 60, data: ip });
const soa = (serial: number): RR => canonicalRR({ name: O, type: 'SOA', ttl: 60, data: { mname: `ns.${O}`, rname: `h.${O}`, serial, refresh: 60, retry: 10, expire: 3600, minimum: 5 } });

function collect(records: RR[], ixfr: boolean, clientSerial?: number, perMessage = 3) {
  const c = new XfrCollector(O, ixfr, clientSerial);
  let done = false;
  for (let i = 0; i * perMessage < records.length; i++) {
    expect(done).toBe(false);
    done = c.add(records.slice(i * perMessage, (i + 1) * perMessage), i);
  }
  return { done, result: done ? c.result() : undefined };
}

describe('transfers', () => {
  const zone = buildSnapshot(O, [soa(7), ...Array.from({ length: 10 }, (_, i) => a(`h${i}`, `10.0.0.${i}`))]);

  it('AXFR: SOA, records, SOA; the collector ends exactly at the closing SOA', () => {
    const recs = axfrRecords(zone);
    expect(recs.length).toBe(12);
    const { done, result } = collect(recs, false);
    expect(done).toBe(true);
    expect(result?.kind === 'full' && result.records.length).toBe(11);
    expect(collect(recs.slice(0, -1), false).done).toBe(false);
  });

  it('IXFR: up to date, one condensed step, or the AXFR form when the journal does not reach', () => {
    const j = new Journal();
    j.append({ origin: O, fromSerial: 6, toSerial: 7, soa: soa(7), deleted: [a('old', '10.9.9.9')], added: [a('h9', '10.0.0.9')] });
    expect(ixfrRecords(zone, j, 7)).toEqual({ kind: 'ixfr-uptodate', records: [zone.soa] });
    const inc = ixfrRecords(zone, j, 6);
    expect(inc.kind).toBe('ixfr');
    const got = collect(inc.records, true, 6, 2);
    expect(got.result?.kind).toBe('incremental');
    if (got.result?.kind === 'incremental') {
      expect(got.result.diffs.map((d) => [d.fromSerial, d.toSerial, d.deleted.length, d.added.length])).toEqual([[6, 7, 1, 1]]);
    }
    expect(ixfrRecords(zone, j, 3).kind).toBe('ixfr-axfr');
    expect(collect(ixfrRecords(zone, j, 3).records, true, 3).result?.kind).toBe('full');
    expect(collect([zone.soa], true, 7).result?.kind).toBe('uptodate');
  });

  it('refuses a transfer that does not start with the zone SOA', () => {
    expect(() => new XfrCollector(O, false).add([a('h1', '10.0.0.1')], 0)).toThrow(XfrFormatError);
  });

  it('splits big transfers into messages that each decode, question only in the first', () => {
    const big = buildSnapshot(O, [soa(1), ...Array.from({ length: 3000 }, (_, i) => a(`host-${i}`, `10.${i >> 8}.${i & 255}.1`))]);
    const msgs = xfrMessages(1, { name: O, type: 'AXFR', class: 'IN' }, axfrRecords(big));
    expect(msgs.length).toBeGreaterThan(1);
    const decoded = msgs.map((m) => decode(m));
    expect(decoded[0]?.questions?.length).toBe(1);
    expect(decoded[1]?.questions?.length).toBe(0);
    expect(decoded.reduce((n, p) => n + sectionRRs(p.answers).length, 0)).toBe(3002);
    for (const m of msgs) expect(m.length).toBeLessThan(65535);
  });
});
