import { describe, expect, it } from 'vitest';
import { encodeMessage } from '../dns/wire.js';
import { recordRdata } from './rdata.js';
import { MAX_RRSET_OCTETS, recordOctets, roughRecordOctets } from './rrset-size.js';

/** What the encoder makes of one record answering its own question, minus the question. */
function encoded(owner: string, type: string, data: unknown): number {
  const q = { name: owner, type };
  return encodeMessage({ type: 'response', questions: [q], answers: [{ name: owner, type, class: 'IN', ttl: 0, data }] }).length - encodeMessage({ type: 'response', questions: [q] }).length;
}

describe('recordOctets', () => {
  const cases: Array<[string, string]> = [
    ['A', '10.1.2.3'],
    ['AAAA', '2001:db8::10'],
    ['TXT', 'hello'],
    ['TXT', 'x'.repeat(2048)],
    ['TXT', ''],
    ['MX', '10 mail'],
    ['SRV', '10 5 443 web.example.com.'],
    ['CAA', '0 issue "letsencrypt.org"'],
    ['CNAME', 'other.corp.internal.'],
  ];
  it.each(cases)('%s %s: the direct count equals the encoder, and the rough bound is above both', (type, text) => {
    const owner = 'api.corp.internal';
    const data = recordRdata(type as never, text, 'corp.internal');
    expect(recordOctets(owner, type, data)).toBe(encoded(owner, type, data));
    expect(roughRecordOctets(text)).toBeGreaterThanOrEqual(recordOctets(owner, type, data));
  });

  it('4,000 A records fit the limit, 4,001 do not', () => {
    expect(4000 * recordOctets('x', 'A', undefined)).toBeLessThanOrEqual(MAX_RRSET_OCTETS);
    expect(4001 * recordOctets('x', 'A', undefined)).toBeGreaterThan(MAX_RRSET_OCTETS);
  });
});
