import { describe, expect, it } from 'vitest';
import type { RR } from '../dns/rr.js';
import { compactNode, packIPv4, SingleRecordEntry, SingleTypeEntry, unpackIPv4, type ZoneNode } from './node.js';
import { buildSnapshot } from './snapshot.js';

const a1: RR = { name: 'www.example.test', type: 'A', ttl: 60, class: 'IN', data: '10.0.0.1' };
const a2: RR = { name: 'www.example.test', type: 'A', ttl: 60, class: 'IN', data: '10.0.0.2' };
const txt: RR = { name: 'www.example.test', type: 'TXT', ttl: 60, class: 'IN', data: [Buffer.from('x')] };

function view(node: ZoneNode): unknown {
  return { size: node.size, keys: [...node.keys()], values: [...node.values()], entries: [...node], A: node.get('A'), hasA: node.has('A'), MX: node.get('MX'), hasMX: node.has('MX') };
}

describe('compact zone nodes', () => {
  it('read as the Map they replace', () => {
    expect(view(new SingleRecordEntry(a1))).toEqual(view(new Map([['A', [a1]]])));
    expect(view(new SingleTypeEntry(1, 'A', [a1, a2]))).toEqual(view(new Map([['A', [a1, a2]]])));
    expect(new SingleRecordEntry(a1).node).toBeInstanceOf(SingleRecordEntry);
  });

  it('compactNode keeps a Map only for names with several types', () => {
    expect(compactNode(new Map([['A', [a1, a2]]])).constructor.name).not.toBe('Map');
    const two = compactNode(new Map<string, RR[]>([['A', [a1]], ['TXT', [txt]]]));
    expect(two).toBeInstanceOf(Map);
    expect(Object.isFrozen(two.get('A'))).toBe(true);
  });

  it('a built zone answers the same through each node form', () => {
    const soa: RR = { name: 'example.test', type: 'SOA', ttl: 60, class: 'IN', data: { mname: 'ns.example.test', rname: 'h.example.test', serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 1 } };
    const one = { ...a1, name: 'one.example.test' };
    const z = buildSnapshot('example.test', [soa, one, a1, a2, txt, { ...a1 }]);
    expect(z.size).toBe(5); // the repeated a1 is dropped
    expect(z.rrset('one.example.test', 'A')).toEqual([one]);
    expect(z.rrset('www.example.test', 'A')).toEqual([a1, a2]);
    expect(z.rrset('www.example.test', 'TXT')).toEqual([txt]);
    expect([...z.records()]).toHaveLength(5);
  });
});

describe('packed IPv4 rdata', () => {
  it('round-trips canonical dotted quads and leaves anything else a string', () => {
    for (const ip of ['0.0.0.0', '10.0.48.57', '127.0.0.1', '192.0.2.255', '255.255.255.255', '128.0.0.1']) {
      const v = packIPv4(ip);
      expect(typeof v).toBe('number');
      expect(unpackIPv4(v as number)).toBe(ip);
    }
    for (const s of ['010.0.0.1', '1.2.3', '1.2.3.4.5', '256.0.0.1', 'a.b.c.d', '1..2.3']) expect(packIPv4(s)).toBe(s);
  });

  it('reads back the record it was built from', () => {
    const hi: RR = { name: 'h.example.test', type: 'A', ttl: 5, class: 'IN', data: '250.1.2.3' };
    expect(new SingleRecordEntry(hi).get('A')).toEqual([hi]);
  });
});
