/**
 * The primary's memory across restarts: the last serial of each zone, written atomically
 * (temporary file + rename) whenever a serial changes, so a crash leaves the old file or the
 * new one, never half of one.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';

export class StateFileError extends Error {
  override readonly name = 'StateFileError';
}

export function readSerials(path: string): Record<string, number> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new StateFileError(`${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new StateFileError(`${path}: not JSON`);
  }
  const zones = (parsed as { zones?: unknown }).zones;
  if (typeof zones !== 'object' || zones === null) throw new StateFileError(`${path}: no "zones" object`);
  const out: Record<string, number> = {};
  for (const [origin, serial] of Object.entries(zones as Record<string, unknown>)) {
    if (typeof serial === 'number' && Number.isInteger(serial) && serial >= 0 && serial < 2 ** 32) out[origin] = serial;
  }
  return out;
}

export function writeSerials(path: string, serials: Record<string, number>): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify({ zones: serials }, null, 1) + '\n');
  renameSync(tmp, path);
}
