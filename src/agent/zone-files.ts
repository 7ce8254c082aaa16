/**
 * Static zones from RFC 1035 master files (`--zone-file`). The origin is the owner of the
 * file's SOA, so a file needs no other configuration; errors name the file.
 *
 * Records go from the parser into the index one at a time (the SOA is normally the first
 * record; any before it are held until it comes): never an array of every record, whose
 * transient size V8 would keep as heap long after loading.
 */
import { MasterFileError, readMasterFileRecords } from '../dns/masterfile.js';
import type { RR } from '../dns/rr.js';
import { buildSnapshot } from '../zone/snapshot.js';
import type { ZoneSnapshot } from '../zone/types.js';

export class ZoneFileError extends Error {
  override readonly name = 'ZoneFileError';
}

export async function loadZoneFile(path: string): Promise<ZoneSnapshot> {
  const records = await readMasterFileRecords(path);
  const before: RR[] = [];
  let soa: RR | undefined;
  // Not for-of: leaving that loop early would close the generator.
  for (let r = records.next(); r.done !== true; r = records.next()) {
    before.push(r.value);
    if (r.value.type === 'SOA') {
      soa = r.value;
      break;
    }
  }
  if (soa === undefined) throw new ZoneFileError(`${path}: no SOA record, so no zone origin`);
  function* all(): Generator<RR> {
    yield* before;
    before.length = 0;
    for (let r = records.next(); r.done !== true; r = records.next()) {
      const rr = r.value;
      if (rr.type === 'SOA') throw new ZoneFileError(`${path}: more than one SOA record`);
      yield rr;
    }
  }
  try {
    return buildSnapshot(soa.name, all());
  } catch (err) {
    if (err instanceof MasterFileError || err instanceof ZoneFileError) throw err;
    throw new ZoneFileError(`${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
}
