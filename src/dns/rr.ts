/**
 * The one record shape every layer shares. It is dns-packet's own answer shape, so a record
 * goes to and from the wire without conversion; what this module adds is the canonical
 * form that makes two records comparable (names lower-case, no trailing dot).
 */
import type { Answer } from 'dns-packet';

/** Record types a DNSRecord may hold; SOA exists only as the zone's own apex record. */
export const RECORD_TYPES = ['A', 'AAAA', 'CNAME', 'TXT', 'SRV', 'MX', 'PTR', 'NS', 'CAA'] as const;
export type RecordType = (typeof RECORD_TYPES)[number];
export type RRType = RecordType | 'SOA';

/**
 * A resource record in dns-packet's shape: `name` absolute, lower-case, without the trailing
 * dot (the root is ''); class is always IN. TXT data is an array of Buffers (one per
 * character-string) as dns-packet decodes it.
 */
export type RR = Answer & { type: RRType; ttl: number };

/** Canonical owner name: lower-case, no trailing dot. */
export function canonicalName(name: string): string {
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  return n.toLowerCase();
}
