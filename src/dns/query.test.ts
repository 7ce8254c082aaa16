import { describe, expect, it } from 'vitest';
import { parseQuery } from './query.js';

function query(name: string, qtype: number, extra: number[] = [], ar = 0): Buffer {
  const labels = name.split('.').filter((l) => l !== '');
  const qname = [...labels.flatMap((l) => [l.length, ...Buffer.from(l)]), 0];
  return Buffer.from([0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, ar, ...qname, qtype >> 8, qtype & 0xff, 0, 1, ...extra]);
}

describe('parseQuery', () => {
  it('reads the question, lower-cases the name and keys by name, type and EDNS variant', () => {
    const r = parseQuery(query('WwW.Example.TEST', 1));
    expect(r.kind).toBe('ok');
    if (r.kind !== 'ok') return;
    expect(r.query.id).toBe(0xabcd);
    expect(r.query.qname).toBe('www.example.test');
    expect(r.query.qtype).toBe(1);
    expect(r.query.edns).toBeUndefined();
    const withEdns = parseQuery(query('www.example.test', 1, [0, 0, 41, 0x10, 0, 0, 0, 0x80, 0, 0, 0], 1));
    expect(withEdns.kind === 'ok' && withEdns.query.edns).toEqual({ udpSize: 4096, version: 0, dnssecOk: true });
    expect(withEdns.kind === 'ok' && withEdns.query.key).not.toBe(r.query.key);
  });

  it('raises a tiny EDNS buffer size to 512', () => {
    const r = parseQuery(query('a', 1, [0, 0, 41, 0, 100, 0, 0, 0, 0, 0, 0], 1));
    expect(r.kind === 'ok' && r.query.edns?.udpSize).toBe(512);
  });

  it('drops what has no readable header, and responses', () => {
    expect(parseQuery(Buffer.alloc(11)).kind).toBe('drop');
    const resp = query('a', 1);
    resp[2] = 0x81;
    expect(parseQuery(resp).kind).toBe('drop');
  });

  it('FORMERR for compression pointers, overruns, bad counts, trailing bytes, broken OPT', () => {
    const pointer = Buffer.from([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
    const overrun = Buffer.from([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 63, 0x61]);
    const twoQuestions = query('a', 1);
    twoQuestions.writeUInt16BE(2, 4);
    const trailing = Buffer.concat([query('a', 1), Buffer.from([1, 2, 3])]);
    const badOpt = query('a', 1, [0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 9], 1);
    const optionOverrun = query('a', 1, [0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 4, 0, 8, 0, 9], 1);
    for (const b of [pointer, overrun, twoQuestions, trailing, badOpt, optionOverrun]) expect(parseQuery(b).kind).toBe('formerr');
  });

  it('refuses names longer than 255 octets', () => {
    const long = Array.from({ length: 5 }, () => 'x'.repeat(63)).join('.');
    expect(parseQuery(query(long, 1)).kind).toBe('formerr');
  });
});
