import { describe, expect, it } from 'vitest';
import { Reconciler } from './reconciler.js';
import { recordRdata } from './rdata.js';
import { recordObj, zoneObj } from '../../test/util/controller-objects.js';

describe('Reconciler', () => {
  it('reports only the changed RRsets per zone, and moves a renamed record', () => {
    const rec = new Reconciler(recordRdata);
    rec.upsertZone(zoneObj('corp', 'corp.internal'));
    const r = recordObj('a', 'api', 'api.corp.internal', 'A', ['10.0.0.1']);
    rec.upsertRecord(r);
    let out = rec.flush();
    expect(out.zonesUpserted.map((z) => z.origin)).toEqual(['corp.internal']);
    expect(out.changes.get('corp.internal')).toHaveLength(1);
    expect(rec.recordCount('corp.internal')).toBe(1);

    rec.upsertRecord({ ...r, owner: 'api2.corp.internal', meta: { ...r.meta, generation: 2 } });
    out = rec.flush();
    const ch = out.changes.get('corp.internal') ?? [];
    expect(ch.map((c) => [c.owner, c.before.length, c.after.length]).sort()).toEqual([
      ['api.corp.internal', 1, 0],
      ['api2.corp.internal', 0, 1],
    ]);
    expect(out.zonesUpserted).toEqual([]);
    expect([...rec.zoneRecords('corp.internal')].map((x) => x.name)).toEqual(['api2.corp.internal']);
  });

  it('a new subzone takes its names from the parent zone', () => {
    const rec = new Reconciler(recordRdata);
    rec.upsertZone(zoneObj('corp', 'corp.internal'));
    rec.upsertRecord(recordObj('a', 'api', 'api.shop.corp.internal', 'A', ['10.0.0.1']));
    rec.flush();
    rec.upsertZone(zoneObj('shop', 'shop.corp.internal'));
    const out = rec.flush();
    expect(out.changes.get('corp.internal')?.[0]?.after).toEqual([]);
    expect(out.changes.get('shop.corp.internal')?.[0]?.after).toHaveLength(1);
    expect(rec.verdict('a/api')).toEqual({ accepted: true, zone: 'shop.corp.internal' });
  });

  it('a deleted winner hands the name to the next oldest namespace', () => {
    const rec = new Reconciler(recordRdata);
    rec.upsertZone(zoneObj('corp', 'corp.internal'));
    rec.upsertRecord(recordObj('a', 'x', 'n.corp.internal', 'A', ['10.0.0.1'], { created: 1 }));
    rec.upsertRecord(recordObj('b', 'x', 'n.corp.internal', 'A', ['10.0.0.2'], { created: 2 }));
    rec.flush();
    expect(rec.verdict('b/x')?.accepted).toBe(false);
    rec.deleteRecord('a/x');
    const out = rec.flush();
    expect(rec.verdict('b/x')?.accepted).toBe(true);
    expect(out.changes.get('corp.internal')?.[0]?.after.map((r) => r.data)).toEqual(['10.0.0.2']);
    expect(out.records.has('b/x')).toBe(true);
  });

  it('namespace label changes re-evaluate only that namespace', () => {
    const rec = new Reconciler(recordRdata);
    rec.upsertZone(zoneObj('corp', 'corp.internal', { selector: { matchLabels: { p: 'y' } } }));
    rec.upsertRecord(recordObj('a', 'x', 'n.corp.internal', 'A', ['10.0.0.1']));
    rec.upsertRecord(recordObj('b', 'x', 'm.corp.internal', 'A', ['10.0.0.1']));
    rec.flush();
    expect(rec.verdict('a/x')?.accepted).toBe(false);
    rec.setNamespace({ meta: { name: 'a', uid: 'u', resourceVersion: '1', generation: 0, created: 0 }, labels: { p: 'y' } });
    const out = rec.flush();
    expect(rec.verdict('a/x')?.accepted).toBe(true);
    expect([...out.records]).toEqual(['a/x']);
  });

  it('deleting the zone withdraws it and refuses its records', () => {
    const rec = new Reconciler(recordRdata);
    rec.upsertZone(zoneObj('corp', 'corp.internal'));
    rec.upsertRecord(recordObj('a', 'x', 'n.corp.internal', 'A', ['10.0.0.1']));
    rec.flush();
    rec.deleteZone('corp');
    const out = rec.flush();
    expect(out.zonesRemoved).toEqual(['corp.internal']);
    expect(rec.verdict('a/x')).toMatchObject({ accepted: false, reason: 'NoZone' });
  });
});
