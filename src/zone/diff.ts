/**
 * Computing and applying IXFR-shaped diffs. Applying is pure and costs O(changed records):
 * the new snapshot shares every untouched index node with the old one.
 */
import { canonicalName, type RR } from '../dns/rr.js';
import { canonicalRR, rdataKey, recordKey, type SoaRdata } from '../dns/rdata.js';
import type { ZoneDiff, ZoneSnapshot } from './types.js';
import { DiffBaseError, DiffConflictError, ZoneError } from './errors.js';
import { inZone } from './names.js';
import { compactNode } from './node.js';
import { addExistence, buildSnapshot, checkNode, IndexedZone, type EntryWriter, type ZoneNode } from './snapshot.js';

export interface RecordChanges {
  readonly deleted: RR[];
  readonly added: RR[];
}

/**
 * What turns `oldRecords` into `newRecords`, SOA records ignored. Records are the same when
 * owner, type and canonical rdata match; a changed TTL is a delete plus an add.
 */
export function diffRecords(oldRecords: Iterable<RR>, newRecords: Iterable<RR>): RecordChanges {
  const before = new Map<string, RR>();
  for (const rr of oldRecords) {
    if (rr.type === 'SOA') continue;
    before.set(recordKey(rr), rr);
  }
  const deleted: RR[] = [];
  const added: RR[] = [];
  const kept = new Set<string>();
  for (const rr of newRecords) {
    if (rr.type === 'SOA') continue;
    const key = recordKey(rr);
    if (kept.has(key)) continue;
    kept.add(key);
    const old = before.get(key);
    if (old === undefined) {
      added.push(canonicalRR(rr));
    } else if ((old.ttl >>> 0) !== (rr.ttl >>> 0)) {
      deleted.push(canonicalRR(old));
      added.push(canonicalRR(rr));
    }
  }
  for (const [key, rr] of before) {
    if (!kept.has(key)) deleted.push(canonicalRR(rr));
  }
  return { deleted, added };
}

function asIndexed(snapshot: ZoneSnapshot): IndexedZone {
  return snapshot instanceof IndexedZone ? snapshot : buildSnapshot(snapshot.origin, snapshot.records());
}

/**
 * The snapshot after `diff`. Throws DiffBaseError when the diff does not start at this
 * snapshot's serial and DiffConflictError when it does not fit the data (a deleted record
 * is absent, an added one present); `snapshot` is never changed.
 */
export function applyDiff(snapshot: ZoneSnapshot, diff: ZoneDiff): IndexedZone {
  const base = asIndexed(snapshot);
  const origin = base.origin;
  if (canonicalName(diff.origin) !== origin) {
    throw new ZoneError(origin, `diff is for zone ${diff.origin}`);
  }
  if (diff.fromSerial >>> 0 !== base.serial) throw new DiffBaseError(origin, diff.fromSerial >>> 0, base.serial);
  const soa = canonicalRR(diff.soa);
  if (soa.type !== 'SOA' || soa.name !== origin) throw new ZoneError(origin, 'diff SOA is not the apex SOA');
  if ((soa.data as SoaRdata).serial !== diff.toSerial >>> 0) {
    throw new ZoneError(origin, `diff SOA serial ${(soa.data as SoaRdata).serial} differs from toSerial ${diff.toSerial}`);
  }

  // Working copies of the touched nodes only.
  const touched = new Map<string, Map<string, RR[]>>();
  const working = (name: string): Map<string, RR[]> => {
    let node = touched.get(name);
    if (node === undefined) {
      node = new Map();
      const old = base.names.get(name)?.node;
      if (old !== undefined) for (const [t, rrs] of old) node.set(t, rrs.slice());
      touched.set(name, node);
    }
    return node;
  };

  let size = base.size;
  for (const raw of diff.deleted) {
    const rr = canonicalRR(raw);
    if (rr.type === 'SOA') throw new ZoneError(origin, 'diff deletes an SOA record; the SOA travels in diff.soa');
    const list = working(rr.name).get(rr.type);
    const key = rdataKey(rr);
    const idx = list === undefined ? -1 : list.findIndex((r) => rdataKey(r) === key);
    if (list === undefined || idx < 0) {
      throw new DiffConflictError(origin, `cannot delete ${rr.name} ${rr.type}: no such record`);
    }
    list.splice(idx, 1);
    size--;
  }
  for (const raw of diff.added) {
    const rr = canonicalRR(raw);
    if (rr.type === 'SOA') throw new ZoneError(origin, 'diff adds an SOA record; the SOA travels in diff.soa');
    if (!inZone(rr.name, origin)) throw new ZoneError(origin, `${rr.name || '.'} ${rr.type} is outside the zone`);
    const node = working(rr.name);
    let list = node.get(rr.type);
    if (list === undefined) node.set(rr.type, (list = []));
    const key = rdataKey(rr);
    if (list.some((r) => rdataKey(r) === key)) {
      throw new DiffConflictError(origin, `cannot add ${rr.name} ${rr.type}: record already present`);
    }
    list.push(rr);
    size++;
  }
  working(origin).set('SOA', [soa]);

  const builder = base.names.builder();
  const names: EntryWriter = builder;
  for (const [name, node] of touched) {
    for (const [t, rrs] of node) if (rrs.length === 0) node.delete(t);
    const had = base.names.get(name)?.node !== undefined;
    const next: ZoneNode | undefined = node.size === 0 ? undefined : compactNode(node);
    if (next !== undefined) checkNode(origin, name, next);
    // Set the records first, then adjust the counts, which keep whatever node is there.
    const current = names.get(name);
    if (current !== undefined) names.set(name, { count: current.count, node: next });
    else if (next !== undefined) names.set(name, { count: 0, node: next });
    if (!had && next !== undefined) addExistence(names, name, origin, 1);
    else if (had && next === undefined) addExistence(names, name, origin, -1);
  }
  return new IndexedZone({ origin, soa, names: builder.freeze(), size });
}
