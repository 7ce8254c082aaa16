// A `lookup` for dgram sockets that answer or notify IP literals.
import { lookup as dnsLookup, type LookupOneOptions } from 'node:dns';
import { isIP } from 'node:net';

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string, family: number) => void;

/**
 * dgram resolves every send's address through `lookup`, and the default one defers even an
 * IP literal to process.nextTick (a closure, a tick and a regex per datagram). Replies go to
 * rinfo.address and NOTIFYs to pod IPs, always literals, so those resolve on the spot;
 * anything else (a host name) still goes through dns.lookup.
 */
export function literalLookup(address: string, options: LookupOneOptions | number, callback: LookupCallback): void {
  const family = isIP(address);
  if (family !== 0) {
    callback(null, address, family);
    return;
  }
  dnsLookup(address, typeof options === 'number' ? { family: options } : options, callback);
}
