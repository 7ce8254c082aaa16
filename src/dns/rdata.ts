/**
 * Canonical form and identity of a record's data. Two records are "the same" when owner,
 * type and the canonical wire form of their rdata match (RFC 4034 §6.2: names inside
 * NS/CNAME/PTR/MX/SRV/SOA rdata compare case-insensitively); TTL is not part of identity.
 */
import { canonicalName, type RR, type RRType } from './rr.js';
import { rdataCodec } from './packet-codecs.js';

export interface MxRdata {
  preference: number;
  exchange: string;
}
export interface SrvRdata {
  priority: number;
  weight: number;
  port: number;
  target: string;
}
export interface SoaRdata {
  mname: string;
  rname: string;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}
export interface CaaRdata {
  flags: number;
  tag: string;
  value: string;
  issuerCritical: boolean;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Buffer.isBuffer(x);
}

function num(x: unknown): number {
  return typeof x === 'number' ? x : 0;
}

function str(x: unknown): string {
  return typeof x === 'string' ? x : '';
}

/** dns-packet's own text form of an IPv6 address (compressed, lower-case, hex tail). */
function canonicalIPv6(text: string): string {
  const codec = rdataCodec('AAAA');
  try {
    return codec.decode(codec.encode(text)) as string;
  } catch {
    return text.toLowerCase();
  }
}

/**
 * The rdata in the canonical shape dns-packet decodes to, with names lower-cased and
 * without trailing dots. Records built by the parser or decoded off the wire pass through
 * this, so deep equality and `rdataKey` agree.
 */
export function canonicalData(type: string, data: unknown): unknown {
  switch (type) {
    case 'NS':
    case 'CNAME':
    case 'PTR':
    case 'DNAME':
      return canonicalName(str(data));
    case 'A':
      return str(data);
    case 'AAAA':
      return canonicalIPv6(str(data));
    case 'MX': {
      const d = isObject(data) ? data : {};
      return { preference: num(d.preference), exchange: canonicalName(str(d.exchange)) } satisfies MxRdata;
    }
    case 'SRV': {
      const d = isObject(data) ? data : {};
      return {
        priority: num(d.priority),
        weight: num(d.weight),
        port: num(d.port),
        target: canonicalName(str(d.target)),
      } satisfies SrvRdata;
    }
    case 'SOA': {
      const d = isObject(data) ? data : {};
      return {
        mname: canonicalName(str(d.mname)),
        rname: canonicalName(str(d.rname)),
        serial: num(d.serial) >>> 0,
        refresh: num(d.refresh) >>> 0,
        retry: num(d.retry) >>> 0,
        expire: num(d.expire) >>> 0,
        minimum: num(d.minimum) >>> 0,
      } satisfies SoaRdata;
    }
    case 'TXT': {
      const parts = Array.isArray(data) ? (data as unknown[]) : [data];
      return parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(str(p))));
    }
    case 'CAA': {
      const d = isObject(data) ? data : {};
      const flags = num(d.flags) | (d.issuerCritical === true ? 128 : 0);
      return { flags, tag: str(d.tag), value: str(d.value), issuerCritical: (flags & 128) !== 0 } satisfies CaaRdata;
    }
    default:
      return data;
  }
}

/** The record in canonical form: lower-case owner without trailing dot, class IN, canonical rdata. */
export function canonicalRR(rr: { name: string; type: string; ttl?: number | undefined; data?: unknown }): RR {
  const type = rr.type.toUpperCase() as RRType;
  return {
    name: canonicalName(rr.name),
    type,
    ttl: (rr.ttl ?? 0) >>> 0,
    class: 'IN',
    data: canonicalData(type, rr.data),
  } as RR;
}

/**
 * A string identifying the rdata: its canonical wire form (dns-packet's encoder over
 * lower-cased names), as latin1 so every byte maps to one char.
 */
export function rdataKey(rr: Pick<RR, 'type' | 'data'>): string {
  const data = canonicalData(rr.type, rr.data);
  // CAA encode mutates its input's flags; the canonical copy absorbs that.
  const buf = rdataCodec(rr.type).encode(data);
  return buf.toString('latin1', 2);
}

/** Owner + type + rdata: the identity of a record within a zone. */
export function recordKey(rr: Pick<RR, 'name' | 'type' | 'data'>): string {
  return `${canonicalName(rr.name)}\u0000${rr.type}\u0000${rdataKey(rr)}`;
}
