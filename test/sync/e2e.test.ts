/**
 * Both ends as the real commands: `dnssync primary` pushes a zone file to two `dnssync agent`
 * processes, which answer it over DNS, report ready on /readyz only once synced, and expose
 * the sync metrics; a change to the file reaches both by the NOTIFY that carries it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '../util/wait.js';
import { KEY } from './helpers.js';
import { requireDist, digShort, dnssync, freePort, tempDir, writeKey, type Proc } from './procs.js';

const ZONE = 'e2e.test';
const P_HOST = '127.0.30.60';
const AGENTS = ['127.0.30.61', '127.0.30.62'];

const stops: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  while (stops.length) await (stops.pop() as () => Promise<void> | void)();
});

interface Ports {
  dns: number;
  sync: number;
  metrics: number;
}

describe('dnssync primary → dnssync agents (processes)', () => {
  let primary: Proc;
  let zoneFile = '';
  const ports: Ports[] = [];
  const agents: Proc[] = [];

  beforeAll(async () => {
    requireDist();
    const t = tempDir('dnssync-e2e-');
    stops.push(t.cleanup);
    const keyFile = writeKey(t.dir, KEY);
    zoneFile = join(t.dir, `${ZONE}.zone`);
    writeFileSync(zoneFile, `$TTL 30\n@ SOA ns hostmaster 1 60 10 3600 5\n@ NS ns\nns A 192.0.2.53\nweb A 192.0.2.80\n`);
    for (const host of AGENTS) {
      const p = { dns: await freePort(host), sync: await freePort(host), metrics: await freePort(host) };
      ports.push(p);
      const proc = dnssync(['agent', '--listen', `${host}:${p.dns}`, '--sync-listen', `${host}:${p.sync}`, '--tsig-key-file', keyFile, '--metrics-listen', `${host}:${p.metrics}`]);
      agents.push(proc);
      stops.push(() => proc.stop());
    }
    // Agents up before the primary: a fresh agent knows no zone and is ready at once only
    // after the first one has arrived; the primary's NOTIFY introduces it.
    await waitFor(async () => (await fetch(`http://${AGENTS[0]}:${ports[0]?.metrics}/healthz`)).ok, { what: 'agent health endpoint', timeoutMs: 20_000, intervalMs: 100 });
    // Knowing no zone is not "every zone synced": a signed agent with no static primaries is not
    // ready before the leader's zone list (catalog) has come (it was: 200 with no zone at all).
    for (const [i, host] of AGENTS.entries()) {
      await waitFor(async () => (await fetch(`http://${host}:${ports[i]?.metrics}/healthz`)).ok, { what: `${host} health endpoint`, timeoutMs: 20_000, intervalMs: 100 });
      const early = await fetch(`http://${host}:${ports[i]?.metrics}/readyz`);
      expect({ status: early.status, body: await early.text() }).toEqual({ status: 503, body: expect.stringContaining('catalog') as unknown });
    }
    const pPort = await freePort(P_HOST);
    primary = dnssync(['primary', '--zone-file', zoneFile, '--transfer-listen', `${P_HOST}:${pPort}`, ...AGENTS.flatMap((h, i) => ['--notify', `${h}:${ports[i]?.sync}`]), '--tsig-key-file', keyFile, '--poll-interval', '200ms']);
    stops.push(() => primary.stop());
  }, 180_000);

  it('both agents answer the zone and are ready', async () => {
    for (const [i, host] of AGENTS.entries()) {
      const p = ports[i] as Ports;
      await waitFor(async () => (await digShort(host, p.dns, `web.${ZONE}`)).includes('192.0.2.80'), { what: `${host} answering`, timeoutMs: 20_000, intervalMs: 100 });
      // Ready once every zone it knows has synced: the catalog arrives in a NOTIFY of its own,
      // which may land after the zone answers.
      await waitFor(async () => (await fetch(`http://${host}:${p.metrics}/readyz`)).status === 200, { what: `${host} ready`, timeoutMs: 10_000, intervalMs: 100 });
    }
  });

  it('a file change reaches both agents by NOTIFY, visible in their metrics', async () => {
    appendFileSync(zoneFile, `api A 192.0.2.81\n`);
    for (const [i, host] of AGENTS.entries()) {
      const p = ports[i] as Ports;
      await waitFor(async () => (await digShort(host, p.dns, `api.${ZONE}`)).includes('192.0.2.81'), { what: `${host} answering the change`, timeoutMs: 10_000, intervalMs: 50 });
      const metrics = await (await fetch(`http://${host}:${p.metrics}/metrics`)).text();
      expect(metrics).toMatch(/dnssync_sync_updates_applied_total\{how="notify"\} [1-9]/);
      expect(metrics).toMatch(/dnssync_sync_zone_serial\{zone="e2e.test",role="secondary"\} \d+/);
    }
  });

  it('agents stop cleanly on SIGTERM', async () => {
    const a = agents[1] as Proc;
    await a.stop();
    expect(a.child.exitCode).toBe(0);
  });
});
