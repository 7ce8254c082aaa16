/** Record builders for the zone unit tests (under test/ so they stay out of dist/src). */
import type { RR } from '../../src/dns/rr.js';
import { canonicalRR } from '../../src/dns/rdata.js';

export function rr(name: string, type: string, data: unknown, ttl = 300): RR {
  return canonicalRR({ name, type, ttl, data });
}

export function soa(origin: string, serial: number, minimum = 60, ttl = 3600): RR {
  return rr(origin, 'SOA', { mname: `ns1.${origin}`, rname: `hostmaster.${origin}`, serial, refresh: 60, retry: 10, expire: 3600, minimum }, ttl);
}
