import { describe, expect, it } from 'vitest';
import { MasterFileError, parseMasterFile } from './masterfile.js';
import { formatRR, parseRdata, parseTtl, RdataError } from './presentation.js';
import type { RR } from './rr.js';

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

  it('uses the previous TTL when there is no $TTL, and the SOA minimum first', () => {
    const rrs = parseMasterFile('@ SOA ns h 1 2 3 4 77\na 10 A 192.0.2.1\nb A 192.0.2.2\n', { origin: 'y.test' });
    expect(rrs.map((r) => r.ttl)).toEqual([77, 10, 10]);
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
      ['CAA', '128 ISSUEWILD ";"', '128 issuewild ";"'],
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
