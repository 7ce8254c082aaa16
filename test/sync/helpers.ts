/** Shared pieces of the sync tests: a key, record builders, record-by-record comparison. */
import type { RR } from '../../src/dns/rr.js';
import { canonicalRR, recordKey } from '../../src/dns/rdata.js';
import type { TsigKey } from '../../src/dns/tsig.js';
import type { ZoneSnapshot } from '../../src/zone/types.js';

export const KEY: TsigKey = { name: 'sync-test-key', algorithm: 'hmac-sha256', secret: Buffer.from('c3luYy10ZXN0LWtleS1zZWNyZXQtMzItYnl0ZXMhISE=', 'base64') };
export const WRONG_KEY: TsigKey = { ...KEY, secret: Buffer.from('not the right secret at all, no') };

export function a(name: string, ip: string, ttl = 60): RR {
  return canonicalRR({ name, type: 'A', ttl, data: ip });
}

export function txt(name: string, text: string, ttl = 60): RR {
  return canonicalRR({ name, type: 'TXT', ttl, data: [Buffer.from(text)] });
}

/** `n` A records host0..host{n-1} under `origin`. */
export function hosts(origin: string, n: number, salt = 0): RR[] {
  return Array.from({ length: n }, (_, i) => a(`host${i}.${origin}`, `10.${(salt >> 8) & 255}.${salt & 255}.${i % 250}`));
}

/** Every record but the SOA, as sorted identity strings including the TTL. */
export function recordSet(records: Iterable<RR>): string[] {
  const out: string[] = [];
  for (const rr of records) if (rr.type !== 'SOA') out.push(`${recordKey(rr)}|${rr.ttl}`);
  return out.sort();
}

/** True when both zones hold exactly the same records (SOA serial included). */
export function sameZone(x: ZoneSnapshot | undefined, y: ZoneSnapshot | undefined): boolean {
  if (!x || !y || x.serial !== y.serial) return false;
  const rx = recordSet(x.records());
  const ry = recordSet(y.records());
  return rx.length === ry.length && rx.every((k, i) => k === ry[i]);
}
