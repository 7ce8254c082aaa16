/**
 * Interop with BIND and Knot's tools, real processes throughout:
 *  - BIND `named` as a secondary of `dnssync primary`: NOTIFY (carrying our diff, which BIND
 *    ignores), IXFR/AXFR with TSIG, and BIND answers the new data;
 *  - dig/kdig with the key can AXFR and IXFR from the primary, and are refused without it;
 *  - `dnssync agent` as a secondary of a BIND primary: an nsupdate on BIND makes BIND send a
 *    NOTIFY, and the agent pulls and answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '../util/wait.js';
import { KEY } from './helpers.js';
import { addLoopback, requireDist, digShort, dnssync, freePort, keySpec, run, startNamed, tempDir, writeKey, type Named, type Proc } from './procs.js';

const P_HOST = '127.0.30.20'; // dnssync primary
const S_HOST = '127.0.30.21'; // BIND secondary
const BP_HOST = '127.0.30.22'; // BIND primary
const A_HOST = '127.0.30.23'; // dnssync agent

const ZONE = 'bindsec.test';
const zoneText = (extra: string): string => `$TTL 60
@ IN SOA ns.${ZONE}. hostmaster.${ZONE}. 1 60 10 3600 5
@ NS ns.${ZONE}.
ns A 192.0.2.53
www A 192.0.2.1
${extra}`;

const stops: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  while (stops.length) await (stops.pop() as () => Promise<void> | void)();
});

describe('dnssync primary → BIND secondary', () => {
  let primary: Proc;
  let named: Named;
  let pPort = 0;
  let sPort = 0;
  let zoneFile = '';

  beforeAll(async () => {
    requireDist();
    await addLoopback(P_HOST);
    await addLoopback(S_HOST);
    const t = tempDir('dnssync-primary-');
    stops.push(t.cleanup);
    zoneFile = join(t.dir, `${ZONE}.zone`);
    writeFileSync(zoneFile, zoneText(''));
    const keyFile = writeKey(t.dir, KEY);
    pPort = await freePort(P_HOST);
    sPort = await freePort(S_HOST);
    named = await startNamed(S_HOST, sPort, KEY, `zone "${ZONE}" { type secondary; primaries { ${P_HOST} port ${pPort} key "${KEY.name}"; }; file "${ZONE}.bak"; notify no; };`);
    stops.push(() => named.stop());
    primary = dnssync(['primary', '--zone-file', zoneFile, '--transfer-listen', `${P_HOST}:${pPort}`, '--notify', `${S_HOST}:${sPort}`, '--tsig-key-file', keyFile, '--poll-interval', '200ms', '--log-level', 'debug']);
    stops.push(() => primary.stop());
    stops.push(() => {
      if (process.env.SYNC_TEST_DUMP) writeFileSync(process.env.SYNC_TEST_DUMP, primary.output() + '\n-----named-----\n' + named.proc.output());
    });
    await waitFor(() => primary.output().includes('zone loaded'), { what: 'primary up', timeoutMs: 20_000 });
  }, 180_000);

  it('BIND transfers the zone and answers it', async () => {
    await waitFor(async () => (await digShort(S_HOST, sPort, `www.${ZONE}`)).includes('192.0.2.1'), { what: 'BIND answering www', timeoutMs: 20_000, intervalMs: 200 });
    // BIND's NOTIFY answer has no SOA; the primary learns its serial by asking for it.
    await waitFor(() => primary.output().includes('agent in sync'), { what: 'primary seeing BIND in sync', timeoutMs: 10_000 });
  });

  it('a change of the zone file is pushed: BIND gets the NOTIFY, transfers, answers the new data', async () => {
    appendFileSync(zoneFile, `new A 192.0.2.99\n`);
    await waitFor(async () => (await digShort(S_HOST, sPort, `new.${ZONE}`)).includes('192.0.2.99'), { what: 'BIND answering the new record', timeoutMs: 20_000, intervalMs: 200 });
    // BIND came by IXFR. It answers a NOTIFY carrying the diff with FORMERR (its parser
    // refuses two SOAs in one section), so the primary falls back to a plain NOTIFY for it.
    await waitFor(() => /IXFR served/.test(primary.output()), { what: 'IXFR served to BIND', timeoutMs: 10_000 });
    expect(primary.output()).toMatch(/"kind":"diff"[^\n]*NOTIFY sent/);
    expect(primary.output()).toMatch(/sending it plain NOTIFYs/);
    expect(named.proc.output()).toMatch(/Transfer status: success/);
  });

  it('a change of 3,000 records crosses as a multi-message IXFR; kdig verifies a multi-message AXFR', async () => {
    appendFileSync(zoneFile, Array.from({ length: 3000 }, (_, i) => `bulk${i} A 198.51.100.${i % 250}\n`).join(''));
    await waitFor(async () => (await digShort(S_HOST, sPort, `bulk2999.${ZONE}`)).includes('198.51.100.249'), { what: 'BIND answering the bulk change', timeoutMs: 20_000, intervalMs: 200 });
    expect(named.proc.output()).toMatch(/Transfer completed: [2-9]\d* messages/);
    const kaxfr = await run('kdig', ['-y', keySpec(KEY), `@${P_HOST}`, '-p', String(pPort), ZONE, 'AXFR']);
    const m = /Received \d+ B \((\d+) messages, (\d+) records\)/.exec(kaxfr);
    expect(Number(m?.[1])).toBeGreaterThanOrEqual(2);
    expect(Number(m?.[2])).toBeGreaterThanOrEqual(3005);
    expect(kaxfr).not.toMatch(/failed|WARNING|BADSIG|BADKEY/i);
    const daxfr = await run('dig', ['-y', keySpec(KEY), `@${P_HOST}`, '-p', String(pPort), ZONE, 'AXFR']);
    expect(daxfr).toMatch(/XFR size: 30\d\d records \(messages ([2-9]|\d\d)/);
  });

  it('a file that does not parse keeps the old zone and says why', async () => {
    appendFileSync(zoneFile, `broken A not-an-address\n`);
    await waitFor(() => primary.output().includes('does not parse'), { what: 'parse error logged', timeoutMs: 10_000 });
    expect(await digShort(S_HOST, sPort, `new.${ZONE}`)).toContain('192.0.2.99');
  });

  it('dig and kdig with the key can AXFR and IXFR; without it they are refused', async () => {
    const axfr = await run('dig', ['-y', keySpec(KEY), `@${P_HOST}`, '-p', String(pPort), ZONE, 'AXFR']);
    expect(axfr).toMatch(/www\.bindsec\.test\.\s+60\s+IN\s+A\s+192\.0\.2\.1/);
    expect(axfr).not.toMatch(/failed|tsig verify/i);
    const kaxfr = await run('kdig', ['-y', keySpec(KEY), `@${P_HOST}`, '-p', String(pPort), ZONE, 'AXFR']);
    expect(kaxfr).toMatch(/new\.bindsec\.test\.\s+60\s+IN\s+A\s+192\.0\.2\.99/);
    expect(kaxfr).not.toMatch(/failed|WARNING|BADSIG|BADKEY/i);

    const soa = await run('dig', ['-y', keySpec(KEY), `@${P_HOST}`, '-p', String(pPort), '+short', ZONE, 'SOA']);
    const serial = Number(soa.trim().split(/\s+/)[2]);
    expect(serial).toBeGreaterThan(1);
    // IXFR from the first serial: one condensed step adding new.bindsec.test.
    const ixfr = await run('dig', ['-y', keySpec(KEY), `@${P_HOST}`, '-p', String(pPort), ZONE, `IXFR=${serial - 1}`]);
    const kixfr = await run('kdig', ['-y', keySpec(KEY), `@${P_HOST}`, '-p', String(pPort), ZONE, `IXFR=${serial}`]);
    expect(ixfr).not.toMatch(/failed/i);
    expect(kixfr).toMatch(/SOA/);
    expect(kixfr).not.toMatch(/failed|WARNING|BADSIG|BADKEY/i);

    const noKey = await run('dig', [`@${P_HOST}`, '-p', String(pPort), ZONE, 'AXFR']);
    expect(noKey).toMatch(/Transfer failed|NOTAUTH/i);
    expect(noKey).not.toMatch(/192\.0\.2\.1/);
    const wrongKey = await run('kdig', ['-y', `hmac-sha256:${KEY.name}:${Buffer.from('wrong secret wrong secret').toString('base64')}`, `@${P_HOST}`, '-p', String(pPort), ZONE, 'AXFR']);
    expect(wrongKey).toMatch(/NOTAUTH|BADSIG|failed/i);
    expect(wrongKey).not.toMatch(/192\.0\.2\.1/);
  });
});

describe('BIND primary → dnssync agent', () => {
  let named: Named;
  let agent: Proc;
  let bpPort = 0;
  let syncPort = 0;
  let dnsPort = 0;
  const BZONE = 'bindpri.test';
  const BIG = 'bigpri.test';

  beforeAll(async () => {
    requireDist();
    await addLoopback(BP_HOST);
    await addLoopback(A_HOST);
    bpPort = await freePort(BP_HOST);
    syncPort = await freePort(A_HOST);
    dnsPort = await freePort(A_HOST);
    const t = tempDir('dnssync-agent-');
    stops.push(t.cleanup);
    const keyFile = writeKey(t.dir, KEY);
    const zone = `$TTL 60\n@ IN SOA ns.${BZONE}. hostmaster.${BZONE}. 100 60 10 3600 5\n@ NS ns.${BZONE}.\nns A 192.0.2.53\nold A 192.0.2.10\n`;
    named = await startNamed(
      BP_HOST,
      bpPort,
      KEY,
      `zone "${BZONE}" { type primary; file "${BZONE}.zone"; allow-update { key "${KEY.name}"; }; allow-transfer { key "${KEY.name}"; }; notify explicit; also-notify { ${A_HOST} port ${syncPort} key "${KEY.name}"; }; };
       zone "${BIG}" { type primary; file "${BIG}.zone"; allow-transfer { key "${KEY.name}"; }; notify no; };`,
      { [`${BZONE}.zone`]: zone, [`${BIG}.zone`]: `$TTL 60\n@ IN SOA ns.${BIG}. hostmaster.${BIG}. 7 60 10 3600 5\n@ NS ns.${BIG}.\nns A 192.0.2.53\n` + Array.from({ length: 4000 }, (_, i) => `h${i} A 203.0.113.${i % 250}\n`).join('') },
    );
    stops.push(() => named.stop());
    agent = dnssync(['agent', '--listen', `${A_HOST}:${dnsPort}`, '--sync-listen', `${A_HOST}:${syncPort}`, '--tsig-key-file', keyFile, '--secondary', `${BZONE}@${BP_HOST}:${bpPort}`, '--secondary', `${BIG}@${BP_HOST}:${bpPort}`]);
    stops.push(() => agent.stop());
  }, 180_000);

  it('pulls the zone at start and answers it', async () => {
    await waitFor(async () => (await digShort(A_HOST, dnsPort, `old.${BZONE}`)).includes('192.0.2.10'), { what: 'agent answering old', timeoutMs: 20_000, intervalMs: 200 });
  });

  it('a 4,000-record zone arrives from BIND as a multi-message, TSIG-signed AXFR', async () => {
    await waitFor(async () => (await digShort(A_HOST, dnsPort, `h3999.${BIG}`)).includes('203.0.113.249'), { what: 'agent answering the big zone', timeoutMs: 20_000, intervalMs: 200 });
    expect(named.proc.output()).not.toMatch(/bigpri[^\n]*(failed|error)/i);
  });

  it("BIND's NOTIFY after an update makes the agent pull it", async () => {
    const update = `server ${BP_HOST} ${bpPort}\nzone ${BZONE}\nupdate add fresh.${BZONE} 60 A 192.0.2.77\nsend\n`;
    const t = tempDir('dnssync-nsupdate-');
    stops.push(t.cleanup);
    writeFileSync(join(t.dir, 'u.txt'), update);
    const out = await run('nsupdate', ['-y', keySpec(KEY), join(t.dir, 'u.txt')]);
    expect(out).not.toMatch(/fail|refused/i);
    await waitFor(async () => (await digShort(A_HOST, dnsPort, `fresh.${BZONE}`)).includes('192.0.2.77'), { what: 'agent answering fresh', timeoutMs: 5_000, intervalMs: 100 });
    expect(agent.output()).not.toMatch(/"level":50/);
  });
});
