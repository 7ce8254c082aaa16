import { describe, expect, it } from 'vitest';
import { MasterFileError, parseMasterFile } from './masterfile.js';
import { formatRR, parseRdata, parseTtl, RdataError } from './presentation.js';
import type { RR } from './rr.js';
import { canonicalRR } from './rdata.js';
import { decodeMessage, encodeMessage } from './wire.js';

function lines(rrs: RR[]): string[] {
  return rrs.map(formatRR);
}

describe('parseMasterFile', () => {
  it('handles $ORIGIN, $TTL, @, relative names, blank owners and either order of TTL and class', () => {
    const rrs = parseMasterFile(
      [
        '$TTL 1h',
        '$ORIGIN Zone.Test.',
        '@ IN SOA ns1 admin 7 1h 10m 1w 1m',
        '  NS ns1 ; comment',
        'ns1 IN 60 A 192.0.2.1',
        '    60 IN AAAA 2001:DB8::1',
        'a.b 1d A 192.0.2.2',
        'abs.other.test. A 192.0.2.3',
      ].join('\n'),
      { file: 'z.db' },
    );
    expect(lines(rrs)).toEqual([
      'zone.test. 3600 IN SOA ns1.zone.test. admin.zone.test. 7 3600 600 604800 60',
      'zone.test. 3600 IN NS ns1.zone.test.',
      'ns1.zone.test. 60 IN A 192.0.2.1',
      'ns1.zone.test. 60 IN AAAA 2001:db8::1',
      'a.b.zone.test. 86400 IN A 192.0.2.2',
      'abs.other.test. 3600 IN A 192.0.2.3',
    ]);
  });

  it('parses parentheses across lines and quoted strings with escapes', () => {
    const rrs = parseMasterFile('t 5 TXT ( "a \\"q\\" \\\\ b" ; c\n  "\\065;" plain )\n', { origin: 'x.test' });
    expect(rrs).toHaveLength(1);
    const data = rrs[0]?.data as Buffer[];
    expect(data.map((b) => b.toString())).toEqual(['a "q" \\ b', 'A;', 'plain']);
    expect(formatRR(rrs[0] as RR)).toBe('t.x.test. 5 IN TXT "a \\"q\\" \\\\ b" "A;" "plain"');
  });

  it('defaults TTLs as BIND does without $TTL: SOA minimum, else the last TTL stated', () => {
    // The SOA has no TTL and none is known: its minimum becomes the default for the rest.
    const a = parseMasterFile('@ SOA ns h 1 2 3 4 77\na 10 A 192.0.2.1\nb A 192.0.2.2\n', { origin: 'y.test' });
    expect(a.map((r) => r.ttl)).toEqual([77, 10, 77]);
    // A TTL stated first: RFC 1035 semantics, every later record takes the last one stated.
    const b = parseMasterFile('a 10 A 192.0.2.1\n@ SOA ns h 1 2 3 4 77\nb A 192.0.2.2\nc 20 A 192.0.2.3\nd A 192.0.2.4\n', { origin: 'y.test' });
    expect(b.map((r) => r.ttl)).toEqual([10, 10, 10, 20, 20]);
  });

  it('gives an RRset the TTL of its first record (RFC 2181 §5.2, as BIND)', () => {
    const rrs = parseMasterFile('$TTL 100\nw 30 A 192.0.2.1\nw 60 A 192.0.2.2\n', { origin: 'y.test' });
    expect(rrs.map((r) => r.ttl)).toEqual([30, 30]);
  });

  it('refuses bad files with file, line and reason', () => {
    const bad: Array<[string, RegExp]> = [
      ['$TTL 1\n@ SOA ns h 1 2 3 4 5\n_s._tcp SRV 1 2 3\n', /^zone\.db:3: SRV needs 4 fields, got 3$/],
      ['$TTL 1\na A 300.1.1.1\n', /^zone\.db:2: "300\.1\.1\.1" is not an IPv4 address$/],
      ['$INCLUDE other.db\n', /^zone\.db:1: \$INCLUDE is not supported/],
      ['$TTL 1\na HINFO x y\n', /^zone\.db:2: unsupported type HINFO$/],
      ['$TTL 1\na CH A 192.0.2.1\n', /class CH is not supported/],
      ['a A 192.0.2.1\n', /^zone\.db:1: no TTL/],
      ['$TTL 1\n A 192.0.2.1\n', /^zone\.db:2: no owner name/],
      ['$TTL 1\na TXT "open\n', /^zone\.db:2: unterminated quoted string$/],
      ['$TTL 1\na TXT ( "x"\n\n', /^zone\.db:2: '\(' without '\)'$/],
      ['$TTL 1\nrel A 192.0.2.1\n', /relative name "rel" but no origin/],
      ['$TTL 1\na.. A 192.0.2.1\n', /empty label/],
      [`$TTL 1\n${'x'.repeat(64)}.t. A 192.0.2.1\n`, /label longer than 63/],
      ['$TTL 1\na\\.b.t. A 192.0.2.1\n', /escaped dot/],
      ['$TTL 99999999999\n', /above 2147483647/],
      ['$TTL 1\nm.t. MX 70000 x.t.\n', /MX preference 70000 is above 65535/],
      [`$TTL 1\nt.t. TXT "${'a'.repeat(256)}"\n`, /longer than 255/],
    ];
    for (const [text, re] of bad) {
      let err: unknown;
      try {
        parseMasterFile(text, text.includes('rel A') ? { file: 'zone.db' } : { file: 'zone.db', origin: 'o.test' });
      } catch (e) {
        err = e;
      }
      expect(err, text).toBeInstanceOf(MasterFileError);
      expect((err as Error).message, text).toMatch(re);
    }
  });

  it('accepts RFC 3597 generic rdata for known types', () => {
    const rrs = parseMasterFile('a 5 A \\# 4 C0000201\n', { origin: 'g.test' });
    expect(rrs[0]?.data).toBe('192.0.2.1');
  });
});

describe('parseRdata / formatRR', () => {
  it('parses each type and formats it back', () => {
    const cases: Array<[string, string, string]> = [
      ['A', '192.0.2.1', '192.0.2.1'],
      ['AAAA', '2001:0db8:0000::0001', '2001:db8::1'],
      ['CNAME', 'Target.Example.', 'target.example.'],
      ['NS', 'ns1', 'ns1.o.test.'],
      ['PTR', 'host.o.test.', 'host.o.test.'],
      ['MX', '10 mail', '10 mail.o.test.'],
      ['SRV', '1 2 443 svc.o.test.', '1 2 443 svc.o.test.'],
      ['TXT', '"hello world" two', '"hello world" "two"'],
      ['CAA', '0 issue "ca.example"', '0 issue "ca.example"'],
      ['CAA', '128 ISSUEWILD ";"', '128 ISSUEWILD ";"'],
      ['SOA', 'ns h 1 1h 2 3 4', 'ns.o.test. h.o.test. 1 3600 2 3 4'],
    ];
    for (const [type, text, formatted] of cases) {
      const data = parseRdata(type, text, 'o.test');
      expect(formatRR({ name: 'n.o.test', type, ttl: 1, class: 'IN', data } as RR)).toBe(`n.o.test. 1 IN ${type} ${formatted}`);
      // Formatting then parsing again is the identity.
      expect(parseRdata(type, formatted, 'o.test')).toEqual(data);
    }
  });

  it('refuses bad rdata with a reason', () => {
    expect(() => parseRdata('SRV', '1 2 3', 'o.test')).toThrow(new RdataError('SRV needs 4 fields, got 3'));
    expect(() => parseRdata('SRV', '1 2 70000 x.', 'o.test')).toThrow(/SRV port 70000 is above 65535/);
    expect(() => parseRdata('AAAA', '1.2.3.4')).toThrow(/not an IPv6/);
    expect(() => parseRdata('CNAME', 'a b')).toThrow(/CNAME needs 1 field, got 2/);
    expect(() => parseRdata('CAA', '0 is-sue "x"')).toThrow(/CAA tag/);
    expect(() => parseRdata('DNAME', 'x.')).toThrow(/unsupported type DNAME/);
    expect(() => parseRdata('TXT', '')).toThrow(/TXT needs at least 1 field/);
  });

  it('parses TTL units', () => {
    expect(parseTtl('1h30m')).toBe(5400);
    expect(parseTtl('1W2d3H4m5S')).toBe(604800 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5);
    expect(() => parseTtl('1x')).toThrow(/bad TTL/);
  });
});

describe('fuzz', () => {
  function rng(seed: number): () => number {
    let s = seed >>> 0;
    return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  }
  const pieces = ['$TTL', '$ORIGIN', '@', ' ', '\t', '\n', '(', ')', '"', '\\', ';', 'IN', 'A', 'AAAA', 'MX', 'SRV', 'TXT', 'CAA', 'SOA', 'NS', 'CNAME', 'PTR', '10', '1h', '192.0.2.1', '2001:db8::1', 'x', 'y.z.', '.', '\\065', '\\.', '*', '_t', '65536', '300', '\\#', '4', 'c0000201', 'issue', 'ä'];

  it('mutated zone files only ever raise MasterFileError', () => {
    const rand = rng(42);
    let parsed = 0;
    let refused = 0;
    let records = 0;
    const base = [
      '$TTL 1h',
      '@ SOA ns1 host 1 2 3 4 5',
      '  NS ns1',
      'ns1 A 192.0.2.1',
      'www 60 IN AAAA 2001:db8::1',
      't TXT "a \\"b\\" c" (d',
      '   e) ; comment',
      '_s._tcp SRV 1 2 3 target',
      'm MX 10 mail.other.',
      'c CAA 0 issue "ca"',
      'al CNAME www',
      'p PTR host.',
    ].join('\n');
    const chars = [' ', '\n', '(', ')', '"', '\\', ';', '.', '@', '$', '0', '9', 'x', '*', ':', '\t'];
    for (let i = 0; i < 3000; i++) {
      let text = base;
      const edits = 1 + Math.floor(rand() * 4);
      for (let k = 0; k < edits; k++) {
        const at = Math.floor(rand() * text.length);
        const r = rand();
        if (r < 0.4) text = text.slice(0, at) + text.slice(at + 1 + Math.floor(rand() * 3));
        else if (r < 0.8) text = text.slice(0, at) + (chars[Math.floor(rand() * chars.length)] ?? '') + text.slice(at);
        else text = text.slice(0, at) + (pieces[Math.floor(rand() * pieces.length)] ?? '') + ' ' + text.slice(at);
      }
      let rrs: RR[];
      try {
        rrs = parseMasterFile(text, { origin: 'f.test', file: 'fuzz.db' });
        parsed++;
      } catch (e) {
        if (!(e instanceof MasterFileError)) throw new Error(`non-MasterFileError for ${JSON.stringify(text)}: ${String(e)}`, { cause: e });
        expect(e.message).toMatch(/^fuzz\.db:[0-9]+: /);
        refused++;
        continue;
      }
      // Whatever parses goes onto the wire and comes back the same.
      const wire = decodeMessage(encodeMessage({ type: 'response', answers: rrs }));
      expect(wire.answers.map((a) => canonicalRR(a as RR))).toEqual(rrs);
      records += rrs.length;
    }
    expect(records).toBeGreaterThan(20);
    expect(parsed).toBeGreaterThan(10);
    expect(refused).toBeGreaterThan(100);
  });

  it('random rdata only ever raises RdataError', () => {
    const rand = rng(7);
    for (let i = 0; i < 3000; i++) {
      const type = ['A', 'AAAA', 'CNAME', 'TXT', 'SRV', 'MX', 'PTR', 'NS', 'CAA', 'SOA'][i % 10] as string;
      let text = '';
      const n = Math.floor(rand() * 8);
      for (let k = 0; k < n; k++) text += (pieces[Math.floor(rand() * pieces.length)] ?? '') + ' ';
      try {
        parseRdata(type, text, 'f.test');
      } catch (e) {
        if (!(e instanceof RdataError)) throw new Error(`non-RdataError for ${type} ${JSON.stringify(text)}: ${String(e)}`, { cause: e });
      }
    }
  });
});
