import { describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalRR } from '../dns/rdata.js';
import { buildSnapshot } from '../zone/snapshot.js';
import { logger } from '../observability/logger.js';
import { ZonePersistence, ZoneFileFormatError, decodeAgentMeta, decodeZoneFile, encodeAgentMeta, encodeZoneFile } from './zone-persist.js';

const O = 'persist.test';
const soa = canonicalRR({ name: O, type: 'SOA', ttl: 5, data: { mname: `ns.${O}`, rname: `h.${O}`, serial: 77, refresh: 60, retry: 10, expire: 3600, minimum: 5 } });
const records = [soa, ...Array.from({ length: 2000 }, (_, i) => canonicalRR({ name: `h${i}.${O}`, type: 'A', ttl: 60, data: `10.0.${i >> 8}.${i & 255}` })), canonicalRR({ name: `t.${O}`, type: 'TXT', ttl: 60, data: [Buffer.from('x'.repeat(250))] })];
const meta = { primary: { host: '10.1.2.3', port: 5354 }, primarySince: 1_700_000_000, confirmedAt: 1_700_000_123_456, primaryTerm: 7n << 32n, dataTerm: (7n << 32n) - 1n };

describe('zone persistence', () => {
  it('round-trips a zone spanning several messages, with its meta', () => {
    const snap = buildSnapshot(O, records);
    const back = decodeZoneFile(encodeZoneFile(snap, meta));
    expect(back.meta).toEqual(meta);
    expect(back.snapshot.serial).toBe(77);
    expect([...back.snapshot.records()].map((r) => JSON.stringify(r)).sort()).toEqual([...snap.records()].map((r) => JSON.stringify(r)).sort());
  });

  it('refuses a truncated or foreign file with a typed error', () => {
    const bytes = encodeZoneFile(buildSnapshot(O, records), meta);
    expect(() => decodeZoneFile(bytes.subarray(0, bytes.length - 10))).toThrow(ZoneFileFormatError);
    expect(() => decodeZoneFile(Buffer.from('{"v":2}\n'))).toThrow(ZoneFileFormatError);
    expect(() => decodeZoneFile(Buffer.from('no newline'))).toThrow(ZoneFileFormatError);
  });

  it('coalesces writes, writes the latest state, skips broken files and removes on request', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dnssync-persist-'));
    try {
      const p = new ZonePersistence(dir, logger('test'), 60_000);
      let snap = buildSnapshot(O, [soa]);
      let calls = 0;
      const current = () => (calls++, { snap, meta });
      p.save(O, current);
      snap = buildSnapshot(O, records);
      p.save(O, current);
      expect(readdirSync(dir)).toEqual([]); // not yet: coalesced
      p.flush();
      expect(calls).toBe(1);
      writeFileSync(join(dir, 'broken.zone.bin'), 'garbage');
      const loaded = p.loadAll();
      expect(loaded.map((z) => [z.snapshot.origin, z.snapshot.size])).toEqual([[O, records.length]]);
      p.remove(O);
      expect(readdirSync(dir)).toEqual(['broken.zone.bin']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps the leadership term and later confirmations beside the zones, across a restart', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dnssync-persist-'));
    try {
      const p = new ZonePersistence(dir, logger('test'), 60_000);
      p.save(O, () => ({ snap: buildSnapshot(O, [soa]), meta }));
      p.flush();
      p.saveTerm(7n << 32n);
      p.saveTerm(3n); // older: ignored
      p.confirmed(O, meta.confirmedAt + 60_000);
      p.flush();
      const again = new ZonePersistence(dir, logger('test'), 60_000);
      expect(again.loadMeta().term).toBe(7n << 32n);
      // The zone file says one time; the later confirmation wins.
      expect(again.loadAll().map((z) => z.meta.confirmedAt)).toEqual([meta.confirmedAt + 60_000]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads agent state leniently: a bad term or time is left out, an unknown version refused', () => {
    const m = decodeAgentMeta(encodeAgentMeta({ term: 2n ** 63n, confirmed: new Map([[O, 5]]) }));
    expect(m.term).toBe(2n ** 63n);
    expect(m.confirmed.get(O)).toBe(5);
    expect(decodeAgentMeta('{"v":1,"term":"-1","confirmed":{"a":"x","b":-3}}')).toEqual({ term: 0n, confirmed: new Map() });
    expect(() => decodeAgentMeta('{"v":9}')).toThrow(ZoneFileFormatError);
  });
});
