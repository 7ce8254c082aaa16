/**
 * Static zones from RFC 1035 master files (`--zone-file`). The origin is the owner of the
 * file's SOA, so a file needs no other configuration; errors name the file.
 */
import { readMasterFile } from '../dns/masterfile.js';
import { buildSnapshot } from '../zone/snapshot.js';
import type { ZoneSnapshot } from '../zone/types.js';

export class ZoneFileError extends Error {
  override readonly name = 'ZoneFileError';
}

export async function loadZoneFile(path: string): Promise<ZoneSnapshot> {
  const records = await readMasterFile(path);
  const soas = records.filter((r) => r.type === 'SOA');
  const soa = soas[0];
  if (soa === undefined) throw new ZoneFileError(`${path}: no SOA record, so no zone origin`);
  if (soas.length > 1) throw new ZoneFileError(`${path}: more than one SOA record`);
  try {
    return buildSnapshot(soa.name, records);
  } catch (err) {
    throw new ZoneFileError(`${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
}
