/**
 * QTYPE numbers to the mnemonic strings the zone model and dns-packet use. Unknown types
 * keep their RFC 3597 spelling (TYPE65534) so they fall through to NODATA, never an error.
 */
const NAMES: Record<number, string> = {
  1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 12: 'PTR', 13: 'HINFO', 15: 'MX', 16: 'TXT', 28: 'AAAA',
  33: 'SRV', 35: 'NAPTR', 39: 'DNAME', 43: 'DS', 46: 'RRSIG', 47: 'NSEC', 48: 'DNSKEY', 52: 'TLSA',
  64: 'SVCB', 65: 'HTTPS', 99: 'SPF', 251: 'IXFR', 252: 'AXFR', 255: 'ANY', 257: 'CAA',
};

export function typeName(qtype: number): string {
  return NAMES[qtype] ?? `TYPE${qtype}`;
}
