import { describe, expect, it } from 'vitest';
import packet from 'dns-packet';
import {
  decodeMessage,
  encodeMessage,
  WireError,
  type WireMessage,
  type WireRecord,
} from './wire.js';
import { FLAG_AA, FLAG_RD, FLAG_TC } from './header.js';
import { parseQuery } from './query.js';
import { canonicalRR } from './rdata.js';
import type { RR } from './rr.js';

const O = 'example.test';
const every: RR[] = [
  canonicalRR({ name: O, type: 'SOA', ttl: 3600, data: { mname: `ns1.${O}`, rname: `hostmaster.${O}`, serial: 4294967295, refresh: 60, retry: 10, expire: 3600, minimum: 5 } }),
  canonicalRR({ name: O, type: 'NS', ttl: 60, data: `ns1.${O}` }),
  canonicalRR({ name: O, type: 'MX', ttl: 60, data: { preference: 10, exchange: `mail.${O}` } }),
  canonicalRR({ name: `www.${O}`, type: 'A', ttl: 60, data: '192.0.2.1' }),
  canonicalRR({ name: `www.${O}`, type: 'AAAA', ttl: 60, data: '2001:db8::1' }),
  canonicalRR({ name: `alias.${O}`, type: 'CNAME', ttl: 60, data: `www.${O}` }),
  canonicalRR({ name: `t.${O}`, type: 'TXT', ttl: 60, data: [Buffer.from('hello'), Buffer.from(''), Buffer.from([0, 255, 34])] }),
  canonicalRR({ name: `_x._tcp.${O}`, type: 'SRV', ttl: 60, data: { priority: 1, weight: 2, port: 443, target: `www.${O}` } }),
  canonicalRR({ name: `1.2.0.192.in-addr.arpa`, type: 'PTR', ttl: 60, data: `www.${O}` }),
  canonicalRR({ name: O, type: 'CAA', ttl: 60, data: { flags: 128, tag: 'issue', value: 'ca.example' } }),
];

function strip(rrs: readonly packet.Answer[]): unknown[] {
  return rrs.map((a) => canonicalRR(a as RR));
}

describe('encodeMessage', () => {
  it('round-trips every type through dns-packet decode, compressed and smaller', () => {
    const msg: WireMessage = { id: 4242, type: 'response', flags: FLAG_AA | FLAG_RD, questions: [{ name: `www.${O}`, type: 'A' }], answers: every };
    const ours = encodeMessage(msg);
    const plain = packet.encode({ ...msg, questions: [{ name: `www.${O}`, type: 'A' }], answers: every as packet.Answer[] } as packet.Packet);
    expect(ours.length).toBeLessThan(plain.length * 0.75);
    const d = packet.decode(ours);
    expect(d.id).toBe(4242);
    expect(d.flag_aa).toBe(true);
    expect(d.flag_rd).toBe(true);
    expect(d.flag_qr).toBe(true);
    expect(strip(d.answers ?? [])).toEqual(every);
    // decodeMessage agrees.
    expect(strip(decodeMessage(ours).answers)).toEqual(every);
  });

  it('does not compress SRV targets (RFC 2782) but does compress MX/NS/SOA/CNAME/PTR rdata', () => {
    const srv = every.find((r) => r.type === 'SRV') as RR;
    const mx = every.find((r) => r.type === 'MX') as RR;
    const base = { type: 'response' as const, questions: [{ name: `www.${O}`, type: 'A' }] };
    const withSrv = encodeMessage({ ...base, answers: [srv] });
    // The target www.example.test is written out in full after the SRV fixed fields.
    const target = Buffer.from('\x03www\x07example\x04test\x00', 'latin1');
    expect(withSrv.subarray(withSrv.length - target.length).equals(target)).toBe(true);
    const withMx = encodeMessage({ ...base, answers: [mx] });
    // MX exchange mail.example.test → "mail" + pointer.
    expect(withMx.readUInt16BE(withMx.length - 2) & 0xc000).toBe(0xc000);
  });

  it('compresses case-sensitively by default and case-insensitively on request', () => {
    const msg: WireMessage = { type: 'response', questions: [{ name: `WWW.Example.TEST`, type: 'A' }], answers: [every[3] as RR] };
    const cs = packet.decode(encodeMessage(msg));
    expect(cs.answers?.[0]?.name).toBe(`www.${O}`);
    const ci = encodeMessage(msg, { caseInsensitiveCompression: true });
    expect(packet.decode(ci).answers?.[0]?.name).toBe('WWW.Example.TEST');
    expect(ci.length).toBeLessThan(encodeMessage(msg).length);
  });

  it('sets opcode NOTIFY/UPDATE and extended rcodes through EDNS', () => {
    const n = decodeMessage(encodeMessage({ id: 1, flags: FLAG_AA, questions: [{ name: O, type: 'SOA' }], answers: [every[0] as RR] }, { opcode: 'NOTIFY' }));
    expect(n.opcode).toBe('NOTIFY');
    expect(n.flag_aa).toBe(true);
    expect(n.flag_qr).toBe(false);
    expect(decodeMessage(encodeMessage({ opcode: 'UPDATE', questions: [{ name: O, type: 'SOA' }] })).opcodeNumber).toBe(5);
    const bad = encodeMessage({ type: 'response', rcode: 'BADVERS', questions: [{ name: O, type: 'A' }] });
    expect(bad.readUInt16BE(2) & 0xf).toBe(0);
    const d = decodeMessage(bad);
    expect(d.rcodeNumber).toBe(16);
    expect(d.rcode).toBe('BADVERS');
    expect(d.edns?.udpSize).toBe(1232);
    const nx = decodeMessage(encodeMessage({ type: 'response', rcode: 3, questions: [{ name: O, type: 'A' }] }));
    expect(nx.rcode).toBe('NXDOMAIN');
    expect(nx.edns).toBeUndefined();
  });

  it('writes EDNS with UDP size, DO bit and options, from `edns` or an OPT record', () => {
    const a = decodeMessage(encodeMessage({ questions: [{ name: O, type: 'A' }], edns: { udpSize: 4096, do: true, options: [{ code: 10, data: Buffer.alloc(8, 7) }] } }));
    expect(a.edns).toEqual({ udpSize: 4096, do: true, version: 0, options: [{ code: 10, data: Buffer.alloc(8, 7) }] });
    const b = decodeMessage(
      encodeMessage({ questions: [{ name: O, type: 'A' }], additionals: [{ name: '.', type: 'OPT', udpPayloadSize: 1400, flags: 0x8000 } as unknown as WireRecord] }),
    );
    expect(b.edns?.udpSize).toBe(1400);
    expect(b.edns?.do).toBe(true);
  });

  it('truncates by whole RRsets, keeps OPT, and sets TC only for answer/authority data', () => {
    const many: RR[] = [];
    for (let i = 0; i < 40; i++) many.push(canonicalRR({ name: `big.${O}`, type: 'A', ttl: 60, data: `192.0.2.${i}` }));
    const small = [canonicalRR({ name: `small.${O}`, type: 'A', ttl: 60, data: '192.0.2.250' })];
    const msg: WireMessage = { type: 'response', questions: [{ name: `big.${O}`, type: 'A' }], answers: [...small, ...many], edns: { udpSize: 512 } };
    const full = encodeMessage(msg);
    expect(full.length).toBeGreaterThan(512);
    const t = encodeMessage(msg, { maxSize: 512 });
    expect(t.length).toBeLessThanOrEqual(512);
    const d = decodeMessage(t);
    expect(d.flag_tc).toBe(true);
    expect(d.answers.length).toBe(1); // the 40-record RRset is dropped whole
    expect(d.edns?.udpSize).toBe(512);
    // Additional data that does not fit is dropped without TC.
    const add = encodeMessage({ type: 'response', questions: [{ name: `small.${O}`, type: 'A' }], answers: small, additionals: many }, { maxSize: 512 });
    const da = decodeMessage(add);
    expect(da.flag_tc).toBe(false);
    expect(da.answers.length).toBe(1);
    expect(da.additionals.length).toBe(0);
    // …unless it is required glue (RFC 9471).
    const glue = decodeMessage(
      encodeMessage({ type: 'response', questions: [{ name: `small.${O}`, type: 'A' }], authorities: small, additionals: many }, { maxSize: 512, additionalRequired: true }),
    );
    expect(glue.flag_tc).toBe(true);
    expect(glue.additionals.length).toBe(0);
    // And it still fits in TCP size.
    expect(decodeMessage(encodeMessage(msg, { maxSize: 65535 })).answers.length).toBe(41);
    expect(encodeMessage(msg, { maxSize: 65535 }).readUInt16BE(2) & FLAG_TC).toBe(0);
  });

  it('compression targets of dropped RRsets are forgotten', () => {
    const many: RR[] = [];
    for (let i = 0; i < 60; i++) many.push(canonicalRR({ name: `n${i}.sub${i}.${O}`, type: 'TXT', ttl: 60, data: [Buffer.alloc(20, 97)] }));
    const tail = canonicalRR({ name: `n59.sub59.${O}`, type: 'A', ttl: 1, data: '192.0.2.9' });
    for (let max = 100; max < 3000; max += 37) {
      const buf = encodeMessage({ type: 'response', questions: [{ name: O, type: 'TXT' }], answers: many, additionals: [tail] }, { maxSize: max });
      expect(buf.length).toBeLessThanOrEqual(max);
      const d = decodeMessage(buf);
      for (const a of d.answers) expect(a.name).toMatch(/^n[0-9]+\.sub[0-9]+\.example\.test$/);
    }
  });

  it('refuses unencodable input with WireError', () => {
    expect(() => encodeMessage({ questions: [{ name: `${'a'.repeat(64)}.test`, type: 'A' }] })).toThrow(WireError);
    expect(() => encodeMessage({ questions: [{ name: 'a..b', type: 'A' }] })).toThrow(WireError);
    expect(() => encodeMessage({ questions: [{ name: 'a', type: 'NOPE' }] })).toThrow(WireError);
  });
});

/** Deterministic PRNG so a failure reproduces. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

describe('decodeMessage', () => {
  it('turns pointer loops, forward pointers and overruns into WireError', () => {
    const q = encodeMessage({ id: 7, questions: [{ name: `www.${O}`, type: 'A' }] });
    const loop = Buffer.from(q);
    loop.writeUInt16BE(0xc000 | 12, 12); // qname points at itself
    expect(() => decodeMessage(loop)).toThrow(WireError);
    const fwd = Buffer.from(q);
    fwd.writeUInt16BE(0xc000 | 40, 12);
    expect(() => decodeMessage(fwd)).toThrow(WireError);
    const overrun = Buffer.from(q);
    overrun[12] = 60; // label runs past the end
    expect(() => decodeMessage(overrun)).toThrow(WireError);
    expect(() => decodeMessage(Buffer.alloc(5))).toThrow(WireError);
    // An A record claiming 6 octets of rdata: dns-packet alone would read 4 and go astray.
    const r = encodeMessage({ type: 'response', questions: [{ name: 'a.test', type: 'A' }], answers: [{ name: 'a.test', type: 'A', ttl: 1, data: '192.0.2.1' }, { name: 'a.test', type: 'A', ttl: 1, data: '192.0.2.2' }] });
    const rdlenAt = r.length - 6;
    expect(r.readUInt16BE(rdlenAt)).toBe(4);
    const lying = Buffer.concat([r, Buffer.from([1, 2])]);
    lying.writeUInt16BE(6, rdlenAt);
    expect(() => decodeMessage(lying)).toThrow(/RDLENGTH/);
    expect(decodeMessage(r).answers).toHaveLength(2);
    expect(() => decodeMessage(q.subarray(0, q.length - 1))).toThrow(WireError);
  });

  it('fuzz: random and mutated messages only ever throw WireError', () => {
    const rand = rng(1234);
    const seed = encodeMessage({
      id: 99,
      type: 'response',
      questions: [{ name: `www.${O}`, type: 'A' }],
      answers: every,
      authorities: [every[1] as RR],
      additionals: [every[3] as RR],
      edns: { udpSize: 1232, do: true, options: [{ code: 10, data: Buffer.alloc(8) }] },
    });
    let decoded = 0;
    let refused = 0;
    for (let i = 0; i < 20_000; i++) {
      let buf: Buffer;
      if (i % 4 === 0) {
        buf = Buffer.alloc(Math.floor(rand() * 300));
        for (let k = 0; k < buf.length; k++) buf[k] = Math.floor(rand() * 256);
      } else {
        buf = Buffer.from(seed);
        const flips = 1 + Math.floor(rand() * 6);
        for (let k = 0; k < flips; k++) buf[Math.floor(rand() * buf.length)] = Math.floor(rand() * 256);
        if (rand() < 0.2) buf = buf.subarray(0, Math.floor(rand() * buf.length));
      }
      try {
        decodeMessage(buf);
        decoded++;
      } catch (e) {
        if (!(e instanceof WireError)) throw new Error(`non-WireError for ${buf.toString('hex')}: ${String(e)}`, { cause: e });
        refused++;
      }
      const r = parseQuery(buf);
      if (r.kind === 'ok') expect(r.query.questionEnd).toBeLessThanOrEqual(buf.length);
    }
    expect(decoded).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(100);
  });
});

describe('parseQuery (the fast path) agrees with decodeMessage', () => {
  it('reads header, question and EDNS as the full decode does', () => {
    const q = encodeMessage({ id: 0xbeef, flags: FLAG_RD, questions: [{ name: 'WwW.Example.Test', type: 'AAAA' }], edns: { udpSize: 4096, do: true } });
    const r = parseQuery(q);
    const d = decodeMessage(q);
    expect(r.kind).toBe('ok');
    if (r.kind !== 'ok') return;
    expect(r.query.id).toBe(d.id);
    expect(r.query.opcode).toBe(d.opcodeNumber);
    expect(((r.query.flagsHi << 8) & FLAG_RD) !== 0).toBe(d.flag_rd);
    expect(r.query.qname).toBe(d.questions[0]?.name.toLowerCase());
    expect(r.query.qtype).toBe(28);
    expect(r.query.edns).toEqual({ udpSize: d.edns?.udpSize, version: d.edns?.version, dnssecOk: d.edns?.do });
  });

  it('formerrs what the full decode refuses in a query: a name cut short, a missing additional', () => {
    const q = encodeMessage({ questions: [{ name: 'a.test', type: 'A' }] });
    expect(parseQuery(q.subarray(0, 11)).kind).toBe('drop');
    expect(parseQuery(q.subarray(0, q.length - 1)).kind).toBe('formerr');
    const badAr = Buffer.from(q);
    badAr.writeUInt16BE(1, 10);
    expect(parseQuery(badAr).kind).toBe('formerr');
    expect(() => decodeMessage(badAr)).toThrow(WireError);
  });
});
