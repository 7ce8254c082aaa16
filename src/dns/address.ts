/**
 * IP addresses as the 4 or 16 octets of A/AAAA rdata and back. Octets come from the same
 * dns-packet codecs that encode address records; text is written as inet_ntop writes it
 * (RFC 5952: the longest run of zero groups compressed), which is also what Node reports as
 * a socket's remote address, so addresses read off the wire compare equal to those.
 */
import { isIPv4 } from 'node:net';
import { rdataCodec } from './packet-codecs.js';

/** An IP address and port: a listener, an upstream, a peer of the sync protocol. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** The octets of an IPv4 or IPv6 address (zone index dropped). Throws on anything else. */
export function addressBytes(host: string): Buffer {
  const codec = rdataCodec(isIPv4(host) ? 'A' : 'AAAA');
  // The codec writes RDLENGTH first.
  return Buffer.from(codec.encode(host.replace(/%.*$/, '')).subarray(2));
}

/** An address's text from its 4 or 16 octets. */
export function addressText(b: Uint8Array): string {
  if (b.length === 4) return [...b].join('.');
  return ipv6Text(b);
}

function ipv6Text(b: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i] as number) << 8) | (b[i + 1] as number));
  // Compress the longest run of zero groups (RFC 5952), as inet_ntop does.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}
