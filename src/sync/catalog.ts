/**
 * The leader's list of zones as an RFC 9432 catalog zone (schema version 2), which the
 * primary serves and pushes like any zone (TSIG-signed NOTIFY, IXFR/AXFR on the transfer
 * port) and agents follow: they add the zones it lists and drop those it no longer lists —
 * the only way an agent learns of a zone deleted while no leader ran, when no NOTIFY for the
 * removal ever left.
 *
 *     catalog.dnssync.invalid.                    SOA  …
 *     catalog.dnssync.invalid.                    NS   invalid.
 *     version.catalog.dnssync.invalid.            TXT  "2"
 *     <id>.zones.catalog.dnssync.invalid.         PTR  corp.internal.
 *
 * `<id>` is a stable hash of the member's name (RFC 9432 §4.4.1 leaves it to the producer).
 * The catalog is never answered to DNS clients (`.invalid`, RFC 6761), only transferred.
 */
import { createHash } from 'node:crypto';
import { canonicalRR } from '../dns/rdata.js';
import { canonicalName, type RR } from '../dns/rr.js';
import type { ZoneSnapshot } from '../zone/types.js';

export const CATALOG_ORIGIN = 'catalog.dnssync.invalid';
const ZONES = `zones.${CATALOG_ORIGIN}`;
const VERSION = `version.${CATALOG_ORIGIN}`;
const TTL = 0;

export function isCatalog(origin: string): boolean {
  return canonicalName(origin) === CATALOG_ORIGIN;
}

export class CatalogError extends Error {
  override readonly name = 'CatalogError';
}

/** The member label for a zone: 16 hex digits of SHA-256 of its canonical name. */
export function memberLabel(origin: string): string {
  return createHash('sha256').update(canonicalName(origin)).digest('hex').slice(0, 16);
}

/** The catalog's records (no SOA: the primary makes it) for these member zones. */
export function catalogRecords(origins: Iterable<string>): RR[] {
  const out: RR[] = [canonicalRR({ name: CATALOG_ORIGIN, type: 'NS', ttl: TTL, data: 'invalid' }), canonicalRR({ name: VERSION, type: 'TXT', ttl: TTL, data: [Buffer.from('2')] })];
  for (const o of origins) {
    if (isCatalog(o)) continue;
    out.push(canonicalRR({ name: `${memberLabel(o)}.${ZONES}`, type: 'PTR', ttl: TTL, data: canonicalName(o) === '' ? '.' : canonicalName(o) }));
  }
  return out;
}

/**
 * The member zones a catalog lists. Refuses (CatalogError) a catalog whose schema version is
 * not "2" or that has a member label with more than one PTR (RFC 9432 §4.4.1: then it is
 * broken, and acting on half of it could drop zones that exist). Other records are ignored
 * (§3: consumers ignore what they do not support).
 */
export function catalogMembers(snap: ZoneSnapshot): Set<string> {
  let version: string | undefined;
  const byLabel = new Map<string, string[]>();
  for (const rr of snap.records()) {
    if (rr.name === VERSION && rr.type === 'TXT') {
      if (version !== undefined) throw new CatalogError('more than one version property');
      version = (rr.data as Buffer[]).map((b) => b.toString('utf8')).join('');
    } else if (rr.type === 'PTR' && rr.name.endsWith(`.${ZONES}`) && !rr.name.slice(0, -ZONES.length - 1).includes('.')) {
      const l = rr.name.slice(0, -ZONES.length - 1);
      byLabel.set(l, [...(byLabel.get(l) ?? []), canonicalName(rr.data as string)]);
    }
  }
  if (version !== '2') throw new CatalogError(`catalog schema version ${version === undefined ? 'missing' : `"${version}"`}, not "2"`);
  const out = new Set<string>();
  for (const [label, targets] of byLabel) {
    if (targets.length !== 1) throw new CatalogError(`member ${label} has ${targets.length} PTR records`);
    out.add(targets[0] as string);
  }
  return out;
}
