/**
 * Test-only: DNSSYNC_TEST_CLOCK=<epoch seconds> freezes the clock that serials (and, for
 * `dnssync primary`, the start term) are taken from. Serials stay monotonic across a restart
 * or takeover by several mechanisms at once (state file, probing the agents first, resuming
 * past an agent from an older term, time-stamp serials); a test holds the clock back to see
 * each of the others on its own (test/sync/restart-serials.test.ts). Deliberately not a
 * flag: nobody should run with it.
 */
import { FlagError } from './flags.js';

export const TEST_CLOCK_ENV = 'DNSSYNC_TEST_CLOCK';

/** The frozen clock in seconds since the epoch, or undefined when the variable is unset. */
export function testClockSeconds(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const v = env[TEST_CLOCK_ENV];
  if (v === undefined || v === '') return undefined;
  if (!/^\d{1,10}$/.test(v) || Number(v) >= 2 ** 32) throw new FlagError(`${TEST_CLOCK_ENV}: '${v}' is not a time in seconds since the epoch`);
  return Number(v);
}
