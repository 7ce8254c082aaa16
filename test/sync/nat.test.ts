/**
 * NAT between the primary and an agent (issue 12, fault 2): the primary's NOTIFYs reach the
 * agent through source NAT (test/util/nat.ts), so they seem to come from an address where
 * nothing answers TCP or UDP queries — as on a cluster that masquerades pod traffic to a
 * node. The agent must pull from the transfer endpoint the signed NOTIFY names, not from the
 * packet's source. Real processes: `dnssync primary` and `dnssync agent` from dist/.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { createSocket } from 'node:dgram';
import { canonicalRR } from '../../src/dns/rdata.js';
import { sign } from '../../src/dns/tsig.js';
import { notifyMessage, readHeader } from '../../src/sync/codec.js';
import { LEADER_INFO_OPTION } from '../../src/sync/leader-info.js';
import { join } from 'node:path';
import { waitFor } from '../util/wait.js';
import { startNat } from '../util/nat.js';
import { KEY } from './helpers.js';
import { digShort, dnssync, freePort, requireDist, tempDir, writeKey, type Proc } from './procs.js';

const ORIGIN = 'nat.test';
const AGENT = '127.0.36.10';
const FRONT = '127.0.36.20';
const MASQ = '127.0.36.21';
const PRIMARY = '127.0.36.30';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (closers.length) await (closers.pop() as () => Promise<void> | void)();
});

function zoneText(hosts: number, big = 0): string {
  const lines = [`$TTL 60`, `@ IN SOA ns hostmaster 1 60 10 3600 5`, `@ NS ns`, `ns A 192.0.2.53`];
  for (let i = 0; i < hosts; i++) lines.push(`h${i} A 198.51.100.${i + 1}`);
  // TXT records large enough that the change cannot ride in one NOTIFY: the agent must pull.
  for (let i = 0; i < big; i++) lines.push(`t${i} TXT "${'x'.repeat(200)}"`);
  return lines.join('\n') + '\n';
}

/** True when a TCP connection to host:port is refused: nothing listens there. */
function tcpRefused(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

async function startAgent(dir: string, keyFile: string): Promise<{ proc: Proc; dns: number; sync: number; metrics: number }> {
  const dns = await freePort(AGENT);
  const sync = await freePort(AGENT);
  const metrics = await freePort(AGENT);
  const proc = dnssync(['agent', '--listen', `${AGENT}:${dns}`, '--sync-listen', `${AGENT}:${sync}`, '--metrics-listen', `${AGENT}:${metrics}`, '--tsig-key-file', keyFile]);
  closers.push(() => proc.stop());
  await waitFor(() => fetch(`http://${AGENT}:${metrics}/healthz`).then((r) => r.ok), { what: 'agent up', timeoutMs: 20_000 });
  return { proc, dns, sync, metrics };
}

describe('NAT between primary and agent', () => {
  for (const listen of ['specific', 'wildcard'] as const) {
    it(`the agent pulls from the endpoint the signed NOTIFY names, not the masqueraded source (${listen} listen address)`, async () => {
      requireDist();
      const t = tempDir('dnssync-nat-');
      closers.push(t.cleanup);
      const keyFile = writeKey(t.dir, KEY);
      const zoneFile = join(t.dir, `${ORIGIN}.zone`);
      writeFileSync(zoneFile, zoneText(1));
      const ag = await startAgent(t.dir, keyFile);
      const nat = await startNat(FRONT, MASQ, { host: AGENT, port: ag.sync });
      closers.push(() => nat.close());
      const port = await freePort(PRIMARY);
      // A wildcard bind says nothing an agent could dial: the endpoint must be advertised.
      const where = listen === 'specific' ? ['--transfer-listen', `${PRIMARY}:${port}`] : ['--transfer-listen', `0.0.0.0:${port}`, '--transfer-advertise', `${PRIMARY}:${port}`];
      const primary = dnssync(['primary', '--zone-file', zoneFile, ...where, '--notify', `${nat.front.host}:${nat.front.port}`, '--tsig-key-file', keyFile, '--poll-interval', '100ms', '--state-file', join(t.dir, 'state.json')]);
      closers.push(() => primary.stop());

      const answered = (name: string, want: string) => async () => (await digShort(AGENT, ag.dns, name)).join() === want;
      await waitFor(answered(`h0.${ORIGIN}`, '198.51.100.1'), { what: 'first sync through NAT', timeoutMs: 20_000 }).catch((err: Error) => {
        throw new Error(`${err.message}\nagent log tail:\n${ag.proc.output().slice(-800)}`);
      });
      // The NOTIFYs did come through the NAT, from an address with no way back.
      const masq = nat.natAddress();
      expect(masq?.host).toBe(MASQ);
      expect(nat.stats.out).toBeGreaterThan(0);
      expect(await tcpRefused(MASQ, masq?.port as number)).toBe(true);
      // Ready once every zone it knows has synced: the catalog arrives in a NOTIFY of its own,
      // which may land after the zone answers.
      await waitFor(() => fetch(`http://${AGENT}:${ag.metrics}/readyz`).then((r) => r.status === 200), { what: 'agent ready', timeoutMs: 10_000 });

      // A small change (rides in the NOTIFY), then one too large for a datagram (pulled).
      writeFileSync(zoneFile, zoneText(2));
      await waitFor(answered(`h1.${ORIGIN}`, '198.51.100.2'), { what: 'small change through NAT', timeoutMs: 15_000 });
      writeFileSync(zoneFile, zoneText(2, 20));
      await waitFor(async () => (await digShort(AGENT, ag.dns, `t19.${ORIGIN}`, 'TXT')).length === 1, { what: 'large change pulled through NAT', timeoutMs: 15_000 });
      expect(ag.proc.output()).not.toContain('zone transfer failed');
    });
  }

  it('a signed NOTIFY whose leader info is malformed is answered FORMERR and introduces no zone', async () => {
    requireDist();
    const t = tempDir('dnssync-nat-');
    closers.push(t.cleanup);
    const ag = await startAgent(t.dir, writeKey(t.dir, KEY));
    const soa = canonicalRR({ name: 'bad-info.test', type: 'SOA', ttl: 5, data: { mname: 'ns.bad-info.test', rname: 'h.bad-info.test', serial: 9, refresh: 60, retry: 10, expire: 3600, minimum: 5 } });
    const good = notifyMessage(4242, soa, undefined, { term: 1n, transfer: { host: PRIMARY, port: 5354 } });
    // Version octet 1 → 7: an option this agent cannot read. Find it after the option code.
    const code = Buffer.from([LEADER_INFO_OPTION >> 8, LEADER_INFO_OPTION & 0xff]);
    const at = good.indexOf(code) + 4;
    expect(good[at]).toBe(1);
    const bad = Buffer.from(good);
    bad[at] = 7;
    const wire = sign(bad, KEY).wire;
    const sock = createSocket('udp4');
    closers.push(() => new Promise<void>((r) => sock.close(() => r())));
    const answer = new Promise<Buffer>((resolve) => sock.once('message', (m) => resolve(m)));
    sock.send(wire, ag.sync, AGENT);
    expect(readHeader(await answer).rcode).toBe(1);
    expect(await digShort(AGENT, ag.dns, 'bad-info.test', 'SOA')).toEqual([]);
    expect(ag.proc.output()).toContain('malformed leader info');
  });
});
