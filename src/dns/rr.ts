/**
 * The one record shape every layer shares. It is dns-packet's own answer shape, so a record
 * goes to and from the wire without conversion; what this module adds is the canonical
 * form that makes two records comparable (names lower-case, no trailing dot).
 */
import type { Answer } from 'dns-packet';

import type { RecordType } from '../api/types.js';

/**
 * Record types a DNSRecord may hold: the CRD's enum, generated into api/types.ts (one list).
 * SOA exists only as the zone's own apex record.
 */
export { RECORD_TYPES, type RecordType } from '../api/types.js';
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
