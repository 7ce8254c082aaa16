/**
 * `dnssync primary`: the sync engine alone. Serves zone files (SOA/IXFR/AXFR) and pushes
 * every change of a file to the `--notify` targets as a NOTIFY carrying the diff. Files are
 * watched (fs.watch on the directory, since editors replace files by renaming) with a polling
 * fallback; a reload that does not parse keeps the zone as it was and logs why.
 *
 * Serials never go back across restarts: the last serial of each zone is kept in a state
 * file, the targets are asked for their SOA before the first push, and the file's own SOA
 * serial counts too; the first serial is nextSerial(newest of those, now).
 */
import { watch, statSync, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { readMasterFile } from '../dns/masterfile.js';
import type { SoaRdata } from '../dns/rdata.js';
import type { RR } from '../dns/rr.js';
import { configureLogger, LOG_LEVELS, type Logger } from '../observability/logger.js';
import { startHealthServer } from '../observability/health.js';
import { Primary, type SoaParams } from '../sync/primary.js';
import { startTerm } from '../sync/fencing.js';
import { readSerials, writeSerials } from '../sync/state-file.js';
import { FlagError, get, ipHostPort, parseFlags, splitHostPort, usage, type FlagSpec } from './flags.js';
import { loadTsigKeys } from './tsig-key.js';
import { testClockSeconds } from './test-clock.js';


export const PRIMARY_FLAGS: FlagSpec[] = [
  { name: 'zone-file', kind: 'string', repeatable: true, required: true, help: 'RFC 1035 master file to serve, as FILE or ORIGIN=FILE (default origin: the file name without .zone/.db)' },
  { name: 'transfer-listen', kind: 'string', required: true, validate: ipHostPort, help: 'serve SOA/IXFR/AXFR here (UDP and TCP); NOTIFYs leave from this port' },
  { name: 'transfer-advertise', kind: 'string', validate: ipHostPort, help: 'the transfer endpoint named (signed) in every NOTIFY, where agents pull from; needed when --transfer-listen is a wildcard or NAT lies between [default: --transfer-listen when it is a specific address]' },
  { name: 'notify', kind: 'string', repeatable: true, validate: ipHostPort, help: 'secondary or agent sync address to push changes to' },
  { name: 'tsig-key-file', kind: 'string', help: 'BIND key file; with it every NOTIFY, response and transfer is signed and unsigned requests are refused' },
  { name: 'state-file', kind: 'string', help: 'where the last serial of each zone is kept across restarts [default <first zone file>.dnssync-state]' },
  { name: 'poll-interval', kind: 'duration', default: '2s', help: 'also check the zone files this often, in case file events are missed' },
  { name: 'metrics-listen', kind: 'string', validate: ipHostPort, help: 'serve /metrics, /healthz, /readyz here' },
  { name: 'log-level', kind: 'string', default: 'info', validate: (v) => (LOG_LEVELS.includes(v as never) ? undefined : `'${v}' is not one of ${LOG_LEVELS.join(', ')}`), help: 'pino log level' },
];

interface LoadedZone {
  readonly origin: string;
  readonly records: RR[];
  readonly params: SoaParams;
  readonly fileSerial: number;
}

export class ZoneFileError extends Error {
  override readonly name = 'ZoneFileError';
}

/**
 * `--zone-file` is FILE or ORIGIN=FILE. The origin is what `@` and relative names mean when
 * the file has no $ORIGIN (BIND takes it from named.conf); without one it is the file name
 * minus a .zone/.db suffix, so `corp.internal.zone` needs nothing more.
 */
export function zoneFileSpec(spec: string): { path: string; origin: string } {
  const eq = spec.indexOf('=');
  if (eq > 0 && !spec.slice(0, eq).includes('/')) return { origin: spec.slice(0, eq), path: spec.slice(eq + 1) };
  return { path: spec, origin: basename(spec).replace(/\.(zone|db)$/i, '') };
}

async function loadZone(spec: string): Promise<LoadedZone> {
  const { path, origin } = zoneFileSpec(spec);
  const records = await readMasterFile(path, { origin });
  const soas = records.filter((r) => r.type === 'SOA');
  const soa = soas[0];
  if (!soa) throw new ZoneFileError(`${path}: no SOA record, so no zone origin`);
  if (soas.length > 1) throw new ZoneFileError(`${path}: more than one SOA record`);
  const d = soa.data as SoaRdata;
  return {
    origin: soa.name,
    records: records.filter((r) => r.type !== 'SOA'),
    params: { mname: d.mname, rname: d.rname, refresh: d.refresh, retry: d.retry, expire: d.expire, minimum: d.minimum, ttl: soa.ttl },
    fileSerial: d.serial,
  };
}

/** Watches one file: fs.watch on its directory plus a stat poll; calls `onChange` on change. */
function watchFile(path: string, pollMs: number, onChange: () => void): () => void {
  const stamp = (): string => {
    try {
      const s = statSync(path);
      return `${s.mtimeMs}:${s.size}:${s.ino}`;
    } catch {
      return 'missing';
    }
  };
  let last = stamp();
  const check = (): void => {
    const now = stamp();
    if (now !== last) {
      last = now;
      onChange();
    }
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(path), (_event, name) => {
      if (name === null || name === basename(path)) check();
    });
    watcher.on('error', () => undefined);
  } catch {
    watcher = undefined; // polling alone still works
  }
  const timer = setInterval(check, pollMs);
  return () => {
    watcher?.close();
    clearInterval(timer);
  };
}

export async function run(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage('primary', PRIMARY_FLAGS) + '\n');
    return;
  }
  const flags = parseFlags(PRIMARY_FLAGS, argv);
  const log = configureLogger(get.str(flags, 'log-level') ?? 'info').child({ component: 'cli' });
  const keys = loadTsigKeys(get.str(flags, 'tsig-key-file'));
  const files = get.list(flags, 'zone-file');
  const statePath = get.str(flags, 'state-file') ?? `${zoneFileSpec(files[0] as string).path}.dnssync-state`;

  const loaded = new Map<string, LoadedZone>();
  for (const f of files) {
    try {
      loaded.set(f, await loadZone(f));
    } catch (err) {
      throw new FlagError(`--zone-file: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  const listen = splitHostPort(get.str(flags, 'transfer-listen') as string);
  let primary: Primary;
  try {
    const advertise = get.str(flags, 'transfer-advertise');
    const frozen = testClockSeconds();
    const clock = frozen === undefined ? {} : { clock: (): number => frozen };
    primary = await Primary.start({ host: listen.host, port: listen.port, keys, term: startTerm(frozen === undefined ? undefined : frozen * 1000), catalog: true, ...clock, ...(advertise === undefined ? {} : { advertise: splitHostPort(advertise) }) });
  } catch (err) {
    throw new FlagError(`--transfer-listen: ${err instanceof Error ? err.message : String(err)}`);
  }
  primary.setAgents(get.list(flags, 'notify').map((t) => ({ id: t, ...splitHostPort(t) })));

  // Serial floors: the state file, each file's own serial, and what the targets hold now.
  let saved: Record<string, number>;
  try {
    saved = readSerials(statePath);
  } catch (err) {
    await primary.close();
    throw new FlagError(`--state-file: ${err instanceof Error ? err.message : String(err)}`);
  }
  for (const [origin, serial] of Object.entries(saved)) primary.raiseSerialFloor(origin, serial);
  for (const z of loaded.values()) primary.raiseSerialFloor(z.origin, z.fileSerial);
  const probed = await primary.probeSerials([...loaded.values()].map((z) => z.origin), 1000);
  if (Object.keys(probed).length > 0) log.info({ probed }, 'serials found on targets');

  primary.on('serial', (origin, serial) => {
    try {
      writeSerials(statePath, primary.serials());
    } catch (err) {
      log.error({ zone: origin, serial, err: String(err) }, 'could not write the state file; serials may repeat after a restart');
    }
  });

  for (const [file, z] of loaded) {
    const serial = primary.setZone(z.origin, z.records, z.params);
    log.info({ zone: z.origin, serial, records: z.records.length + 1, file }, 'zone loaded');
  }
  primary.markZonesLoaded();

  const reload = async (file: string): Promise<void> => {
    let z: LoadedZone;
    try {
      z = await loadZone(file);
    } catch (err) {
      log.warn({ file, err: err instanceof Error ? err.message : String(err) }, 'zone file does not parse; keeping the zone as it was');
      return;
    }
    const before = loaded.get(file);
    if (before && before.origin !== z.origin) primary.removeZone(before.origin);
    try {
      const serial = primary.setZone(z.origin, z.records, z.params);
      loaded.set(file, z);
      log.info({ zone: z.origin, serial, records: z.records.length + 1, file }, 'zone file reloaded');
    } catch (err) {
      log.warn({ zone: z.origin, file, err: err instanceof Error ? err.message : String(err) }, 'zone file is not a valid zone; keeping the zone as it was');
    }
  };
  // Reloads of one file run one after another, so a slow parse cannot overtake a newer one.
  const unwatch = files.map((f) => {
    let chain = Promise.resolve();
    return watchFile(zoneFileSpec(f).path, get.num(flags, 'poll-interval') ?? 2000, () => {
      chain = chain.then(() => reload(f));
    });
  });

  const metrics = get.str(flags, 'metrics-listen');
  const health = metrics === undefined ? undefined : await startHealthServer(splitHostPort(metrics).host, splitHostPort(metrics).port, () => undefined);
  await waitForSignal(log);
  for (const u of unwatch) u();
  await primary.close();
  await new Promise<void>((resolve) => (health === undefined ? resolve() : health.close(() => resolve())));
}

function waitForSignal(log: Logger): Promise<void> {
  return new Promise((resolve) => {
    const stop = (signal: string): void => {
      log.info({ signal }, 'stopping');
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
