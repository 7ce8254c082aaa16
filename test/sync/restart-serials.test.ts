/**
 * Serials go on forward across a restart of `dnssync primary`, by each mechanism on its own.
 * Four keep them monotonic at once — the state file, the SOA probe of the agents before the
 * first push, resuming past an agent that holds a later serial from an older term, and
 * time-stamp serials — so a test that lets them all run (faults.test.ts) passes with any three
 * of them broken. Here the clock is frozen (DNSSYNC_TEST_CLOCK, src/cli/test-clock.ts), which
 * takes the time stamps out and, with the same frozen start time, the newer term; the state
 * file is deleted; the agents are cut off (their relays drop everything) while the restarted
 * primary probes. Each test leaves one mechanism standing and checks the serial it gives.
 * Addresses: 127.0.38.0/24.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Secondary } from '../../src/sync/secondary.js';
import { serialGt } from '../../src/dns/serial.js';
import { parseMasterFile } from '../../src/dns/masterfile.js';
import { ZoneStore } from '../../src/zone/store.js';
import { waitFor } from '../util/wait.js';
import { KEY, recordSet } from './helpers.js';
import { startRelay, type Relay } from './relay.js';
import { dnssync, freePort, requireDist, tempDir, writeKey, type Proc } from './procs.js';

const ORIGIN = 'restart.test';
/** The first run's frozen clock: its serials are C, C+1, … */
const C = 1_800_000_000;
const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (closers.length) await (closers.pop() as () => Promise<void> | void)();
});

const body = (n: number): string => `$TTL 60\n@ IN SOA ns hostmaster 1 60 10 3600 5\n@ NS ns\nns A 192.0.2.53\n` + Array.from({ length: n }, (_, i) => `r${i} A 198.51.100.${i % 250}\n`).join('');

interface Run {
  readonly stores: ZoneStore[];
  readonly relays: Relay[];
  readonly statePath: string;
  /** The agents' serial when the first primary was killed (all of them hold it). */
  readonly before: number;
  /**
   * Restarts the primary with its clock frozen at `clock` and one more change in the file;
   * resolves to the agents' serial once both hold it, and whether the primary had to resume
   * past an agent ahead of it (its log says so).
   */
  restart(clock: number, opts: { keepStateFile: boolean; agentsAwayDuringProbe: boolean }): Promise<{ serial: number; resumed: boolean }>;
}

/**
 * Two agents behind relays; a primary with its clock frozen at C brings them to serial C+3 (three
 * changes after the first load) and is SIGKILLed. `restart` starts the next one and returns the agents' serial once both hold
 * the file's new contents.
 */
async function firstRun(net: number): Promise<Run> {
  requireDist();
  const t = tempDir('dnssync-restart-serials-');
  closers.push(t.cleanup);
  const zoneFile = join(t.dir, `${ORIGIN}.zone`);
  const statePath = join(t.dir, 'state.json');
  // Whole files only (rename): a reload of a half-written one would be one more serial.
  const write = (n: number): void => {
    writeFileSync(`${zoneFile}.tmp`, body(n));
    renameSync(`${zoneFile}.tmp`, zoneFile);
  };
  const pHost = `127.0.38.${net}`;
  const pPort = await freePort(pHost);
  const stores: ZoneStore[] = [];
  const relays: Relay[] = [];
  for (let i = 0; i < 2; i++) {
    const store = new ZoneStore();
    const sec = await Secondary.start({ store, host: `127.0.38.${net + 10 + i}`, port: 0, keys: [KEY], refreshMs: 2000 });
    closers.push(() => sec.close());
    const relay = await startRelay(`127.0.38.${net + 20 + i}`, { host: pHost, port: pPort }, sec.address, 0);
    closers.push(() => relay.close());
    stores.push(store);
    relays.push(relay);
  }
  const keyFile = writeKey(t.dir, KEY);
  const args = ['primary', '--zone-file', zoneFile, '--transfer-listen', `${pHost}:${pPort}`, ...relays.flatMap((r) => ['--notify', `${r.address.host}:${r.address.port}`]), '--tsig-key-file', keyFile, '--poll-interval', '100ms', '--state-file', statePath];
  const start = (clock: number): Proc => {
    const p = dnssync(args, { DNSSYNC_TEST_CLOCK: String(clock) });
    closers.push(() => p.stop());
    return p;
  };
  const holds = (n: number) => (): boolean => {
    const want = JSON.stringify(recordSet(parseMasterFile(body(n), { origin: ORIGIN })));
    return stores.every((s) => {
      const z = s.get(ORIGIN);
      return z !== undefined && JSON.stringify(recordSet(z.records())) === want;
    });
  };
  const serial = (): number => {
    const [a, b] = stores.map((s) => s.get(ORIGIN)?.serial);
    expect(b).toBe(a);
    return a as number;
  };

  let n = 1;
  write(n);
  const first = start(C);
  await waitFor(holds(n), { what: 'agents at version 1', timeoutMs: 20_000 });
  for (let v = 2; v <= 4; v++) {
    write((n = v));
    await waitFor(holds(n), { what: `agents at version ${n}`, timeoutMs: 10_000 });
  }
  const before = serial();
  // C, then one step per change (C+3): past C+1, which the resume test needs.
  expect(serialGt(before, C + 1)).toBe(true);
  first.child.kill('SIGKILL');
  await first.stop();

  return {
    stores,
    relays,
    statePath,
    before,
    restart: async (clock, opts) => {
      if (!opts.keepStateFile) rmSync(statePath);
      for (const r of relays) r.setLoss(opts.agentsAwayDuringProbe ? 1 : 0);
      write(++n); // changed while the primary was down
      const p = start(clock);
      // 'zone loaded' is logged once the probe is over (answered or timed out).
      await waitFor(() => p.output().includes('"msg":"zone loaded"'), { what: 'the restarted primary past its probe', timeoutMs: 20_000 });
      for (const r of relays) r.setLoss(0);
      await waitFor(holds(n), { what: `agents at version ${n} from the restarted primary`, timeoutMs: 20_000 });
      return { serial: serial(), resumed: p.output().includes('resuming past it') };
    },
  };
}

describe('serials after a primary restart, one mechanism at a time', () => {
  it('the state file alone (same frozen clock and term, agents away during the probe): the next serial follows the saved one', async () => {
    const run = await firstRun(1);
    const after = await run.restart(C, { keepStateFile: true, agentsAwayDuringProbe: true });
    expect(after.serial).toBe(run.before + 1);
  });

  it('the probe alone (same frozen clock and term, no state file): the next serial follows what the agents hold', async () => {
    const run = await firstRun(2);
    const after = await run.restart(C, { keepStateFile: false, agentsAwayDuringProbe: false });
    expect(after.serial).toBe(run.before + 1);
  });

  it("resuming by term alone (clock one second on, no state file, agents away during the probe): the first serial falls behind the agents', the newer term goes past it", async () => {
    const run = await firstRun(3);
    // The restart's own first serial is C+1, behind the agents' C+3.
    const after = await run.restart(C + 1, { keepStateFile: false, agentsAwayDuringProbe: true });
    expect(after.resumed).toBe(true);
    expect(after.serial).toBe(run.before + 1);
  });

  it('the clock alone (no state file, agents away during the probe): the first serial is the time stamp, past the old ones without resuming', async () => {
    const run = await firstRun(4);
    const later = C + 100_000;
    const after = await run.restart(later, { keepStateFile: false, agentsAwayDuringProbe: true });
    // The newer term's fallback (resuming past the agents) would also end on a time stamp: the
    // clock alone means it was never needed.
    expect(after.resumed).toBe(false);
    expect(after.serial).toBe(later);
  });
});
