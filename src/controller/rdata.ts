/**
 * DNSRecord values → rdata. Everything is zone-file presentation format except TXT, whose
 * value is the text itself (the CRD says so, because quoting inside YAML is a trap): it is
 * split into character-strings of at most 255 octets.
 */
import { canonicalData } from '../dns/rdata.js';
import { parseRdata } from '../dns/masterfile.js';
import type { RecordType } from '../dns/rr.js';

export function recordRdata(type: RecordType, text: string, origin: string): unknown {
  if (type === 'TXT') {
    const bytes = Buffer.from(text, 'utf8');
    const parts: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 255) parts.push(bytes.subarray(i, i + 255));
    if (parts.length === 0) parts.push(Buffer.alloc(0));
    return canonicalData('TXT', parts);
  }
  return parseRdata(type, text, origin);
}
