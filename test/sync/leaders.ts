/**
 * The fixture of the leadership-term tests (fencing, term-collision, missed-probe): primaries
 * of a given term and agents on fixed loopback addresses, the clock pinned (serials are steps,
 * not time stamps), retries fast; everything started is closed after each test, newest first.
 */
import { afterEach } from 'vitest';
import { Primary } from '../../src/sync/primary.js';
import { Secondary } from '../../src/sync/secondary.js';
import { ZoneStore } from '../../src/zone/store.js';
import { KEY } from './helpers.js';

export const FAST = { initialMs: 50, maxMs: 400 };

export interface Leaders {
  primary(host: string, term: bigint): Promise<Primary>;
  agent(host: string): Promise<{ sec: Secondary; store: ZoneStore }>;
  /** More to close after the test (a relay, a directory). */
  readonly closers: (() => Promise<void>)[];
}

export function leaders(clock: () => number): Leaders {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (closers.length) await (closers.pop() as () => Promise<void>)();
  });
  return {
    closers,
    async primary(host, term) {
      const p = await Primary.start({ host, port: 0, keys: [KEY], term, clock, retry: FAST });
      closers.push(() => p.close());
      return p;
    },
    async agent(host) {
      const store = new ZoneStore();
      const sec = await Secondary.start({ store, host, port: 0, keys: [KEY], refreshMs: 60_000 });
      closers.push(() => sec.close());
      return { sec, store };
    },
  };
}
