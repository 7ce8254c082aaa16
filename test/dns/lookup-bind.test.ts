/**
 * The zone lookup against BIND, differentially: BIND serves the fixture zone, and for each
 * question our `lookup` must give the same rcode, AA bit and record sets in every section
 * (BIND runs with its default minimal-responses no-auth-recursive, and we ask with RD=1, so
 * positive answers carry no NS in authority on either side).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Answer } from 'dns-packet';
import { decodeMessage } from '../../src/dns/wire.js';
import { parseMasterFile } from '../../src/dns/masterfile.js';
import { canonicalRR, recordKey } from '../../src/dns/rdata.js';
import type { RR } from '../../src/dns/rr.js';
import { buildSnapshot } from '../../src/zone/snapshot.js';
import type { ZoneSnapshot } from '../../src/zone/types.js';
import { freePort, startNamed, type Named } from '../sync/procs.js';
import { waitFor } from '../util/wait.js';
import { askUdp } from './ask.js';

const HOST = '127.0.20.3';
const ORIGIN = 'lookup.test';
const TEXT = readFileSync(join(import.meta.dirname, 'fixtures', 'lookup.zone'), 'utf8');
let named: Named | undefined;
let port = 0;
let zone: ZoneSnapshot;

function ask(name: string, type: string): Promise<Buffer> {
  return askUdp(HOST, port, name, type);
}

beforeAll(async () => {
  zone = buildSnapshot(ORIGIN, parseMasterFile(TEXT, { origin: ORIGIN, file: 'lookup.zone' }));
  port = await freePort(HOST);
  const key = { name: 'unused', algorithm: 'hmac-sha256' as const, secret: Buffer.alloc(32, 1) };
  named = await startNamed(HOST, port, key, `zone "${ORIGIN}" { type primary; file "lookup.zone"; check-names ignore; };`, { 'lookup.zone': TEXT });
  await waitFor(async () => (await ask(ORIGIN, 'SOA').catch(() => undefined))?.length, { what: 'named answering', timeoutMs: 20_000 });
});

afterAll(async () => {
  await named?.stop();
});

function keys(rrs: readonly (RR | Answer)[]): string[] {
  return rrs
    .filter((r) => r.type !== 'OPT')
    .map((r) => {
      const c = canonicalRR(r as RR);
      return `${recordKey(c)}/${c.ttl}`;
    })
    .sort();
}

const QUESTIONS: Array<[string, string]> = [
  ['www', 'A'],
  ['WWW', 'TXT'],
  ['www', 'AAAA'],
  ['@', 'MX'],
  ['@', 'NS'],
  ['@', 'SOA'],
  ['ns1', 'ANY'],
  ['alias2', 'A'],
  ['chain1', 'A'],
  ['chain1', 'CNAME'],
  ['alias', 'MX'],
  ['out', 'A'],
  ['dangling', 'A'],
  ['nothing', 'A'],
  ['x.nothing', 'TXT'],
  ['c', 'A'],
  ['b.c', 'TXT'],
  ['a.b.c', 'TXT'],
  ['x.a.b.c', 'TXT'],
  ['foo.wild', 'A'],
  ['Foo.Bar.Wild', 'MX'],
  ['foo.wild', 'TXT'],
  ['host.wild', 'A'],
  ['host.wild', 'MX'],
  ['x.host.wild', 'A'],
  ['wild', 'A'],
  ['*.wild', 'A'],
  ['z.cn', 'A'],
  ['q.ent2', 'A'],
  ['sub', 'NS'],
  ['sub', 'DS'],
  ['x.sub', 'DS'],
  ['sub', 'A'],
  ['deep.under.sub', 'AAAA'],
  ['ns.sub', 'A'],
  ['_sip._udp', 'SRV'],
  ['mxglue', 'MX'],
  ['tocname', 'A'],
  ['todeleg', 'A'],
];

describe('lookup agrees with BIND', () => {
  it('differs on purpose for a CNAME loop: BIND says SERVFAIL, we return the loop', async () => {
    // Returning the chain lets the resolver see the loop for itself; a SERVFAIL would make
    // the agent look broken for what is a data error.
    const bind = decodeMessage(await ask(`loop1.${ORIGIN}`, 'A'));
    expect(bind.rcode).toBe('SERVFAIL');
    const ours = zone.lookup(`loop1.${ORIGIN}`, 'A');
    expect(ours.kind).toBe('answer');
    expect(ours.kind === 'answer' && ours.answer.map((r) => r.name)).toEqual([`loop1.${ORIGIN}`, `loop2.${ORIGIN}`]);
  });

  for (const [rel, type] of QUESTIONS) {
    const qname = rel === '@' ? ORIGIN : `${rel}.${ORIGIN}`;
    it(`${qname} ${type}`, async () => {
      const bind = decodeMessage(await ask(qname, type));
      const ours = zone.lookup(qname, type);
      expect({ rcode: ours.kind === 'nxdomain' ? 'NXDOMAIN' : 'NOERROR', aa: ours.kind !== 'referral' }).toEqual({
        rcode: bind.rcode,
        aa: bind.flag_aa,
      });
      expect(keys(ours.kind === 'referral' ? [] : ours.answer)).toEqual(keys(bind.answers));
      expect(keys(ours.authority)).toEqual(keys(bind.authorities));
      expect(keys(ours.kind === 'answer' || ours.kind === 'referral' ? ours.additional : [])).toEqual(keys(bind.additionals));
    });
  }
});
