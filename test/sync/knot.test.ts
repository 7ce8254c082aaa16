/**
 * Interop with Knot DNS (`knotd` 3.2 from Debian), real processes throughout, TSIG on every
 * message:
 *  - Knot as a secondary of `dnssync primary`: it bootstraps by AXFR, takes our
 *    diff-carrying NOTIFY (it answers NOERROR and reads only the serial, so the primary
 *    never needs its plain-NOTIFY fallback, unlike with BIND), pulls IXFR, and holds exactly
 *    the primary's records (compared record by record over AXFR with kdig);
 *  - `dnssync agent` as a secondary of a Knot primary: a knotc zone transaction makes Knot
 *    NOTIFY the agent, which pulls IXFR and answers every record Knot holds, and no other.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '../util/wait.js';
import { KEY } from './helpers.js';
import { axfrRecords, startKnot, type Knot } from './knot.js';
import { addLoopback, requireDist, dnssync, freePort, keySpec, run, tempDir, writeKey, type Proc } from './procs.js';

const P_HOST = '127.0.160.20'; // dnssync primary
const KS_HOST = '127.0.160.21'; // Knot secondary
const KP_HOST = '127.0.160.22'; // Knot primary
const A_HOST = '127.0.160.23'; // dnssync agent

const SPEC = keySpec(KEY);

const stops: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  while (stops.length) await (stops.pop() as () => Promise<void> | void)();
});

/** kdig +short for one name and type; the lines of the answer, sorted. */
async function short(host: string, port: number, name: string, type = 'A'): Promise<string[]> {
  const out = await run('kdig', [`@${host}`, '-p', String(port), '+short', '+timeout=2', '+retry=0', name, type]);
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith(';'))
    .sort();
}

/** Knot's NOTIFY log line: the serial it took from our NOTIFY. */
function notifiedSerials(knot: Knot): number[] {
  return [...knot.proc.output().matchAll(/notify, incoming, remote [^,]+, serial (\d+)/g)].map((m) => Number(m[1]));
}

describe('dnssync primary → Knot secondary', () => {
  const ZONE = 'knotsec.test';
  let primary: Proc;
  let knot: Knot;
  let pPort = 0;
  let kPort = 0;
  let zoneFile = '';

  const primaryRecords = (): Promise<string[]> => axfrRecords(P_HOST, pPort, ZONE, SPEC);
  const knotRecords = (): Promise<string[]> => axfrRecords(KS_HOST, kPort, ZONE, SPEC);
  /**
   * Knot holds exactly the primary's records, SOA (so serial) included, and they show the
   * change just made (`has`): the primary reloads its file on its own time.
   */
  async function inSync(what: string, has: (records: string[]) => boolean): Promise<string[]> {
    return waitFor(
      async () => {
        const [p, k] = await Promise.all([primaryRecords(), knotRecords()]);
        if (!has(p)) return undefined;
        if (JSON.stringify(p) === JSON.stringify(k)) return k;
        // Thrown, so a timeout says which records differ.
        throw new Error(`${p.length} vs ${k.length} records; only at the primary: ${p.filter((r) => !k.includes(r)).join(' | ')}; only at Knot: ${k.filter((r) => !p.includes(r)).join(' | ')}`);
      },
      { what, timeoutMs: 10_000, intervalMs: 100 },
    );
  }

  beforeAll(async () => {
    requireDist();
    await addLoopback(P_HOST);
    await addLoopback(KS_HOST);
    const t = tempDir('dnssync-knotsec-');
    stops.push(t.cleanup);
    zoneFile = join(t.dir, `${ZONE}.zone`);
    writeFileSync(zoneFile, `$TTL 60\n@ IN SOA ns.${ZONE}. hostmaster.${ZONE}. 1 60 10 3600 5\n@ NS ns.${ZONE}.\nns A 192.0.2.53\nwww A 192.0.2.1\ngone A 192.0.2.2\ntxt TXT "before"\n`);
    const keyFile = writeKey(t.dir, KEY);
    pPort = await freePort(P_HOST);
    kPort = await freePort(KS_HOST);
    primary = dnssync(['primary', '--zone-file', zoneFile, '--transfer-listen', `${P_HOST}:${pPort}`, '--notify', `${KS_HOST}:${kPort}`, '--tsig-key-file', keyFile, '--poll-interval', '200ms', '--log-level', 'debug']);
    stops.push(() => primary.stop());
    await waitFor(
      () => {
        if (primary.child.exitCode !== null) throw new Error(`primary exited: ${primary.output()}`);
        return primary.output().includes('zone loaded');
      },
      { what: 'primary up', timeoutMs: 20_000 },
    );
    knot = await startKnot(
      KS_HOST,
      kPort,
      KEY,
      `remote:
  - id: primary
    address: ${P_HOST}@${pPort}
    key: ${KEY.name}
acl:
  - id: notify-from-primary
    address: ${P_HOST}
    key: ${KEY.name}
    action: notify
  - id: transfer-with-key
    key: ${KEY.name}
    action: transfer
zone:
  - domain: ${ZONE}
    master: primary
    acl: [notify-from-primary, transfer-with-key]`,
    );
    stops.push(() => knot.stop());
    stops.push(() => {
      if (process.env.SYNC_TEST_DUMP) writeFileSync(process.env.SYNC_TEST_DUMP, primary.output() + '\n-----knotd-----\n' + knot.proc.output());
    });
  }, 180_000);

  it('Knot bootstraps by AXFR and holds exactly the primary’s records', async () => {
    const records = await inSync('Knot holding the primary’s zone', (r) => r.length > 0);
    expect(records.some((r) => /^www\.knotsec\.test\. 60 IN A 192\.0\.2\.1$/.test(r))).toBe(true);
    expect(knot.proc.output()).toMatch(/AXFR, incoming, remote [^\n]*finished/);
    expect(await short(KS_HOST, kPort, `gone.${ZONE}`)).toEqual(['192.0.2.2']);
    // Knot's NOTIFY answer carries no SOA: the primary learns its serial by asking for it,
    // and only then knows a diff from that serial is what Knot needs next.
    await waitFor(() => primary.output().includes('agent in sync'), { what: 'primary seeing Knot in sync', timeoutMs: 10_000 });
  });

  it('takes a diff-carrying NOTIFY (NOERROR), pulls IXFR, and answers every change', async () => {
    const text = readFileSync(zoneFile, 'utf8').replace('www A 192.0.2.1', 'www A 192.0.2.11').replace('gone A 192.0.2.2\n', '').replace('"before"', '"after"');
    writeFileSync(zoneFile, text + 'new A 192.0.2.99\nnew AAAA 2001:db8::99\n');
    const records = await inSync('Knot holding the changed zone', (r) => r.some((l) => l.startsWith('new.')));
    const serial = Number(/SOA \S+ \S+ (\d+)/.exec(records.find((r) => / SOA /.test(r)) ?? '')?.[1]);
    // Knot read the new serial from our NOTIFY and came by IXFR.
    expect(notifiedSerials(knot)).toContain(serial);
    expect(knot.proc.output()).toMatch(/IXFR, incoming, remote [^\n]*finished/);
    expect(primary.output()).toMatch(new RegExp(`"serial":${serial},[^\\n]*"kind":"diff"[^\\n]*NOTIFY sent`));
    // No FORMERR, no refusal: Knot needs no plain-NOTIFY fallback.
    expect(primary.output()).not.toMatch(/sending it plain NOTIFYs|agent refused NOTIFY|failed TSIG/);
    // Record by record, as a client sees them.
    expect(await short(KS_HOST, kPort, `www.${ZONE}`)).toEqual(['192.0.2.11']);
    expect(await short(KS_HOST, kPort, `new.${ZONE}`)).toEqual(['192.0.2.99']);
    expect(await short(KS_HOST, kPort, `new.${ZONE}`, 'AAAA')).toEqual(['2001:db8::99']);
    expect(await short(KS_HOST, kPort, `txt.${ZONE}`, 'TXT')).toEqual(['"after"']);
    expect(await short(KS_HOST, kPort, `gone.${ZONE}`)).toEqual([]);
    const nx = await run('kdig', [`@${KS_HOST}`, '-p', String(kPort), '+timeout=2', `gone.${ZONE}`, 'A']);
    expect(nx).toMatch(/status: NXDOMAIN/);
    // Knot's NOTIFY answer carries no serial: the primary learns by SOA query that it holds
    // this one. (Until it does, a bigger change must still be announced with its own serial,
    // not a 'leg' short of it, which Knot would ignore: test/sync/standard-secondary.test.ts.)
    await waitFor(() => new RegExp(`"serial":${serial},[^\\n]*"agent in sync"`).test(primary.output()), { what: 'primary seeing Knot at the new serial', timeoutMs: 10_000 });
  });

  it('a change too big for a datagram: a plain NOTIFY and a multi-message IXFR', async () => {
    writeFileSync(zoneFile, readFileSync(zoneFile, 'utf8') + Array.from({ length: 600 }, (_, i) => `bulk${i} A 198.51.100.${i % 250}\n`).join(''));
    const records = await inSync('Knot holding the bulk change', (r) => r.some((l) => l.startsWith('bulk599.')));
    expect(records.filter((r) => r.startsWith('bulk')).length).toBe(600);
    expect(primary.output()).toMatch(/"kind":"plain"[^\n]*NOTIFY sent/);
    expect(knot.proc.output()).toMatch(/IXFR, incoming, remote [^\n]*finished, [\d.]+ seconds, ([2-9]|\d\d+) messages/);
    expect(await short(KS_HOST, kPort, `bulk599.${ZONE}`)).toEqual(['198.51.100.99']);
  });
});

describe('Knot primary → dnssync agent', () => {
  const ZONE = 'knotpri.test';
  let knot: Knot;
  let agent: Proc;
  let kPort = 0;
  let syncPort = 0;
  let dnsPort = 0;

  /** Every RRset in Knot's AXFR, asked of the agent: the same answers, and nothing else. */
  async function agentMatchesKnot(): Promise<string[] | undefined> {
    const records = await axfrRecords(KP_HOST, kPort, ZONE, SPEC);
    if (records.length === 0) return undefined;
    const sets = new Map<string, string[]>();
    for (const r of records) {
      const [owner, , , type, ...rdata] = r.split(' ');
      const k = `${owner} ${type}`;
      sets.set(k, [...(sets.get(k) ?? []), rdata.join(' ')]);
    }
    for (const [k, want] of sets) {
      const [owner, type] = k.split(' ') as [string, string];
      const got = await short(A_HOST, dnsPort, owner, type);
      if (JSON.stringify(got) !== JSON.stringify(want.sort())) return undefined;
    }
    return records;
  }

  beforeAll(async () => {
    requireDist();
    await addLoopback(KP_HOST);
    await addLoopback(A_HOST);
    kPort = await freePort(KP_HOST);
    syncPort = await freePort(A_HOST);
    dnsPort = await freePort(A_HOST);
    const t = tempDir('dnssync-knotagent-');
    stops.push(t.cleanup);
    const keyFile = writeKey(t.dir, KEY);
    knot = await startKnot(
      KP_HOST,
      kPort,
      KEY,
      `remote:
  - id: agent
    address: ${A_HOST}@${syncPort}
    key: ${KEY.name}
acl:
  - id: transfer-with-key
    key: ${KEY.name}
    action: transfer
zone:
  - domain: ${ZONE}
    file: "%s.zone"
    notify: agent
    acl: transfer-with-key
    zonefile-sync: -1
    journal-content: changes`,
      { [`${ZONE}.zone`]: `$TTL 60\n@ IN SOA ns.${ZONE}. hostmaster.${ZONE}. 100 60 10 3600 5\n@ NS ns.${ZONE}.\nns A 192.0.2.53\nold A 192.0.2.10\nkeep A 192.0.2.11\n` },
    );
    stops.push(() => knot.stop());
    agent = dnssync(['agent', '--listen', `${A_HOST}:${dnsPort}`, '--sync-listen', `${A_HOST}:${syncPort}`, '--tsig-key-file', keyFile, '--secondary', `${ZONE}@${KP_HOST}:${kPort}`]);
    stops.push(() => agent.stop());
  }, 180_000);

  it('pulls the zone at start and answers every record Knot holds', async () => {
    const records = await waitFor(agentMatchesKnot, { what: 'agent answering Knot’s zone', timeoutMs: 15_000, intervalMs: 200 });
    expect(records.length).toBeGreaterThanOrEqual(5);
    expect(knot.proc.output()).toMatch(/AXFR, outgoing, remote [^\n]*finished/);
  });

  it('a knotc transaction: Knot NOTIFYs, the agent pulls IXFR and answers exactly Knot’s records', async () => {
    await knot.knotc('zone-begin', ZONE);
    await knot.knotc('zone-set', ZONE, 'fresh', '60', 'A', '192.0.2.77');
    await knot.knotc('zone-set', ZONE, 'fresh', '60', 'TXT', 'from knot');
    await knot.knotc('zone-unset', ZONE, 'old');
    await knot.knotc('zone-commit', ZONE);
    await waitFor(async () => (await short(A_HOST, dnsPort, `fresh.${ZONE}`)).includes('192.0.2.77'), { what: 'agent answering fresh', timeoutMs: 5_000, intervalMs: 100 });
    await waitFor(agentMatchesKnot, { what: 'agent matching Knot record by record', timeoutMs: 5_000, intervalMs: 200 });
    expect(knot.proc.output()).toMatch(/notify, outgoing, remote [^\n]*serial 101/);
    expect(knot.proc.output()).toMatch(/IXFR, outgoing, remote [^\n]*100 -> 101/);
    const nx = await run('kdig', [`@${A_HOST}`, '-p', String(dnsPort), '+timeout=2', `old.${ZONE}`, 'A']);
    expect(nx).toMatch(/status: NXDOMAIN/);
    expect(agent.output()).not.toMatch(/"level":50/);
  });
});
