import { describe, expect, it } from 'vitest';
import { ZoneStore, type ZoneChange } from './store.js';
import { buildSnapshot } from './snapshot.js';
import { rr, soa } from '../../test/util/zone-records.js';

describe('ZoneStore', () => {
  it('turns away names under no zone by their last label, and keeps that index with the zones', () => {
    const store = new ZoneStore();
    const corp = buildSnapshot('corp.test', [soa('corp.test', 1)]);
    const single = buildSnapshot('example', [soa('example', 1)]);
    store.set(corp);
    store.set(single);
    expect(store.findZone('www.google.com')).toBeUndefined();
    expect(store.findZone('other.test')).toBeUndefined(); // same last label, still no zone
    expect(store.findZone('a.corp.test')).toBe(corp);
    expect(store.findZone('example')).toBe(single);
    expect(store.findZone('x.EXAMPLE.')).toBe(single);
    expect(store.findZone('notexample')).toBeUndefined();
    store.delete('example');
    expect(store.findZone('x.example')).toBeUndefined();
    // A root zone holds every name.
    const root = buildSnapshot('', [soa('', 1)]);
    store.set(root);
    expect(store.findZone('www.google.com')).toBe(root);
    expect(store.findZone('a.corp.test')).toBe(corp);
    store.delete('');
    expect(store.findZone('www.google.com')).toBeUndefined();
  });

  it('finds the longest matching zone and counts versions', () => {
    const store = new ZoneStore();
    const seen: Array<[string, number]> = [];
    const off = store.onChange((c: ZoneChange, v) => seen.push([`${c.kind}:${c.origin}`, v]));
    const parent = buildSnapshot('corp.test', [soa('corp.test', 1)]);
    const child = buildSnapshot('k8s.corp.test', [soa('k8s.corp.test', 1), rr('a.k8s.corp.test', 'A', '192.0.2.1')]);
    expect(store.findZone('a.corp.test')).toBeUndefined();
    store.set(parent);
    store.set(child);
    expect(store.version).toBe(2);
    expect(store.findZone('A.K8S.Corp.Test.')).toBe(child);
    expect(store.findZone('k8s.corp.test')).toBe(child);
    expect(store.findZone('xk8s.corp.test')).toBe(parent);
    expect(store.findZone('corp.test')).toBe(parent);
    expect(store.findZone('test')).toBeUndefined();
    expect(store.origins().sort()).toEqual(['corp.test', 'k8s.corp.test']);
    store.set(child); // same snapshot: no change
    expect(store.version).toBe(2);
    expect(store.delete('K8S.corp.test.')).toBe(true);
    expect(store.delete('k8s.corp.test')).toBe(false);
    expect(store.findZone('a.k8s.corp.test')).toBe(parent);
    off();
    store.delete('corp.test');
    expect(store.version).toBe(4);
    expect(seen).toEqual([['set:corp.test', 1], ['set:k8s.corp.test', 2], ['delete:k8s.corp.test', 3]]);
  });

  it('the root zone matches everything', () => {
    const store = new ZoneStore();
    const root = buildSnapshot('.', [soa('', 1)]);
    store.set(root);
    expect(store.findZone('anything.at.all')).toBe(root);
  });

  it('a throwing listener does not stop the others', () => {
    const store = new ZoneStore();
    let heard = 0;
    store.onChange(() => {
      throw new Error('boom');
    });
    store.onChange(() => heard++);
    store.set(buildSnapshot('x.test', [soa('x.test', 1)]));
    expect(heard).toBe(1);
  });

  it('marks a zone expired and back, bumping the version and telling listeners; a delete clears it', () => {
    const store = new ZoneStore();
    const z = buildSnapshot('exp.test', [soa('exp.test', 1)]);
    store.set(z);
    const seen: ZoneChange[] = [];
    store.onChange((c) => seen.push(c));
    const v = store.version;
    store.setExpired('EXP.test.', true);
    store.setExpired('exp.test', true); // no change
    expect(store.isExpired('exp.test')).toBe(true);
    expect(store.expired()).toEqual(['exp.test']);
    expect(store.version).toBe(v + 1);
    store.setExpired('exp.test', false);
    expect(store.isExpired('exp.test')).toBe(false);
    store.setExpired('exp.test', true);
    store.delete('exp.test');
    expect(store.isExpired('exp.test')).toBe(false);
    expect(seen.map((c) => c.kind)).toEqual(['expired', 'expired', 'expired', 'delete']);
  });
});
