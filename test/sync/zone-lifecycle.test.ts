/**
 * Issue 12, fault 4: which zones exist, and for how long an agent may answer one it cannot
 * refresh. Real processes from dist/: `dnssync primary` (the sync engine alone, as behind
 * the controller) and `dnssync agent`, on 127.0.38.0/24, checked with kdig.
 *
 * - A zone removed while no primary ran (the removal's NOTIFY never reached anyone) is
 *   dropped by the agent once a primary is back — also when that primary serves from another
 *   address, as a new leader does from its own Pod IP — because the agent learns the list of
 *   zones from the leader's catalog.
 * - A zone the agent could not refresh for its SOA `expire` is answered SERVFAIL (not
 *   NXDOMAIN, not forwarded: the agent's upstream holds the same zone with other data), with
 *   a metric and a log line, until the primary confirms it again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { waitFor } from '../util/wait.js';
import { KEY } from './helpers.js';
import { requireDist, dnssync, freePort, tempDir, writeKey, type Proc } from './procs.js';

const P_HOST = '127.0.38.10';
const UP_HOST = '127.0.38.20';

const stops: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  while (stops.length) await (stops.pop() as () => Promise<void> | void)();
});

/** kdig's status and answers (sorted), or undefined while nothing answers. */
function ask(host: string, port: number, name: string, type = 'A'): Promise<{ status: string; answers: string[] } | undefined> {
  return new Promise((resolve) => {
    execFile('kdig', [`@${host}`, '-p', String(port), name, type, '+timeout=1', '+retry=0', '+noall', '+header', '+answer'], { timeout: 5_000 }, (err, stdout) => {
      const status = /status: (\w+)/.exec(stdout)?.[1];
      if (err || status === undefined) return resolve(undefined);
      const answers = stdout.split('\n').filter((l) => l.trim() !== '' && !l.startsWith(';')).map((l) => l.trim().split(/\s+/).pop() as string).sort();
      resolve({ status, answers });
    });
  });
}

async function metrics(host: string, port: number): Promise<string> {
  return (await fetch(`http://${host}:${port}/metrics`)).text();
}

interface AgentPorts {
  readonly host: string;
  readonly dns: number;
  readonly sync: number;
  readonly metrics: number;
}

async function agentPorts(host: string): Promise<AgentPorts> {
  return { host, dns: await freePort(host), sync: await freePort(host), metrics: await freePort(host) };
}

function startAgent(p: AgentPorts, keyFile: string, extra: readonly string[] = []): Proc {
  const proc = dnssync(['agent', '--listen', `${p.host}:${p.dns}`, '--sync-listen', `${p.host}:${p.sync}`, '--metrics-listen', `${p.host}:${p.metrics}`, '--tsig-key-file', keyFile, ...extra]);
  stops.push(() => proc.stop());
  return proc;
}

function startPrimary(files: readonly string[], listen: string, agents: readonly AgentPorts[], keyFile: string, stateFile: string): Proc {
  const proc = dnssync(['primary', ...files.flatMap((f) => ['--zone-file', f]), '--transfer-listen', listen, ...agents.flatMap((a) => ['--notify', `${a.host}:${a.sync}`]), '--tsig-key-file', keyFile, '--state-file', stateFile]);
  stops.push(() => proc.stop());
  return proc;
}

let dir = '';
let keyFile = '';

beforeAll(() => {
  requireDist();
  const t = tempDir('dnssync-lifecycle-');
  stops.push(t.cleanup);
  dir = t.dir;
  keyFile = writeKey(dir, KEY);
});

describe('a zone removed while no primary ran', () => {
  it('is dropped by the agent once a primary (on another address) is back', async () => {
    const KEEP = 'keep.lifecycle.test';
    const GONE = 'gone.lifecycle.test';
    // Long SOA timers: no refresh or expire happens during the test; only the catalog can tell.
    const keepFile = join(dir, `${KEEP}.zone`);
    const goneFile = join(dir, `${GONE}.zone`);
    writeFileSync(keepFile, `$ORIGIN ${KEEP}.\n$TTL 30\n@ SOA ns hostmaster 1 3600 600 86400 5\n@ NS ns\nns A 192.0.2.53\nweb A 192.0.2.1\n`);
    writeFileSync(goneFile, `$ORIGIN ${GONE}.\n$TTL 30\n@ SOA ns hostmaster 1 3600 600 86400 5\n@ NS ns\nns A 192.0.2.53\nweb A 192.0.2.2\n`);
    const ag = await agentPorts('127.0.38.1');
    const agent = startAgent(ag, keyFile);
    await waitFor(async () => (await fetch(`http://${ag.host}:${ag.metrics}/healthz`)).ok, { what: 'agent health endpoint', timeoutMs: 20_000, intervalMs: 100 });

    const first = startPrimary([keepFile, goneFile], `${P_HOST}:${await freePort(P_HOST)}`, [ag], keyFile, join(dir, 'p1.state'));
    for (const [zone, ip] of [[KEEP, '192.0.2.1'], [GONE, '192.0.2.2']] as const) {
      await waitFor(async () => (await ask(ag.host, ag.dns, `web.${zone}`))?.answers.includes(ip), { what: `agent answers web.${zone}`, timeoutMs: 20_000, intervalMs: 100 });
    }
    await first.stop();

    // The next primary (a new leader, from its own address) no longer has GONE: nothing
    // NOTIFYs its removal.
    const P2 = '127.0.38.11';
    const second = startPrimary([keepFile], `${P2}:${await freePort(P2)}`, [ag], keyFile, join(dir, 'p2.state'));
    await waitFor(() => /zone loaded/.test(second.output()), { what: 'second primary up', timeoutMs: 20_000 });
    const t0 = Date.now();
    const gone = await waitFor(async () => {
      const r = await ask(ag.host, ag.dns, `web.${GONE}`);
      return r !== undefined && !r.answers.includes('192.0.2.2') ? r : undefined;
    }, { what: `agent drops ${GONE} (still answering it: served until the next refresh, or forever from a primary gone)`, timeoutMs: 10_000, intervalMs: 100 });
    console.log(`zone removed while no primary ran: dropped ${Date.now() - t0} ms after the next primary started`);
    // No upstream: a name in no zone is refused, not answered from the dropped data.
    expect(gone.status).toBe('REFUSED');
    expect((await ask(ag.host, ag.dns, `web.${KEEP}`))?.answers).toEqual(['192.0.2.1']);
    // Polled: the log line is written before the zone goes, but at suite load the test may read
    // the answer before the agent's log reaches it (failed once at load 29: only the first line read).
    await waitFor(() => /"zone":"gone\.lifecycle\.test".*not in the leader's catalog/.test(agent.output()), { what: "the agent's log saying why it dropped the zone", timeoutMs: 10_000 });
  }, 90_000);
});

describe('SOA expire', () => {
  it('an agent that cannot refresh a zone for `expire` seconds answers SERVFAIL until confirmed again', async () => {
    const ZONE = 'expire.lifecycle.test';
    // The upstream holds the same zone with other data: a forward would show.
    const upFile = join(dir, 'upstream.zone');
    writeFileSync(upFile, `$ORIGIN ${ZONE}.\n$TTL 30\n@ SOA ns hostmaster 1 60 10 3600 5\n@ NS ns\nns A 192.0.2.53\nweb A 198.51.100.99\n`);
    const upDns = await freePort(UP_HOST);
    const upstream = dnssync(['agent', '--listen', `${UP_HOST}:${upDns}`, '--zone-file', upFile]);
    stops.push(() => upstream.stop());
    await waitFor(async () => (await ask(UP_HOST, upDns, `web.${ZONE}`))?.answers.includes('198.51.100.99'), { what: 'upstream answering', timeoutMs: 20_000, intervalMs: 100 });

    // refresh 1 s, retry 1 s, expire 3 s.
    const zoneFile = join(dir, `${ZONE}.zone`);
    writeFileSync(zoneFile, `$ORIGIN ${ZONE}.\n$TTL 30\n@ SOA ns hostmaster 1 1 1 3 5\n@ NS ns\nns A 192.0.2.53\nweb A 192.0.2.80\n`);
    const ag = await agentPorts('127.0.38.2');
    const agent = startAgent(ag, keyFile, ['--upstream', `${UP_HOST}:${upDns}`]);
    await waitFor(async () => (await fetch(`http://${ag.host}:${ag.metrics}/healthz`)).ok, { what: 'agent health endpoint', timeoutMs: 20_000, intervalMs: 100 });
    const listen = `${P_HOST}:${await freePort(P_HOST)}`;
    const stateFile = join(dir, 'expire.state');
    const primary = startPrimary([zoneFile], listen, [ag], keyFile, stateFile);
    await waitFor(async () => (await ask(ag.host, ag.dns, `web.${ZONE}`))?.answers.includes('192.0.2.80'), { what: 'agent answers the zone', timeoutMs: 20_000, intervalMs: 100 });
    // While the primary answers, refreshes keep confirming it: it outlives its expire.
    const confirmedUntil = Date.now() + 4_500;
    await waitFor(async () => {
      const r = await ask(ag.host, ag.dns, `web.${ZONE}`);
      expect(r?.status).toBe('NOERROR');
      return Date.now() > confirmedUntil;
    }, { what: 'zone answered past its expire while confirmed', timeoutMs: 20_000, intervalMs: 250 });

    await primary.stop();
    const t0 = Date.now();
    const seen: string[] = [];
    await waitFor(async () => {
      const r = await ask(ag.host, ag.dns, `web.${ZONE}`);
      if (r === undefined) return false;
      seen.push(`${r.status}:${r.answers.join(',')}`);
      return r.status === 'SERVFAIL';
    }, { what: 'SERVFAIL once the zone expired (today: answered from the stale zone forever)', timeoutMs: 15_000, intervalMs: 100 });
    const expiredAfter = Date.now() - t0;
    console.log(`SOA expire 3 s: SERVFAIL ${expiredAfter} ms after the primary stopped`);
    // Before it expired: the zone's own data; never a forward.
    expect(seen.filter((s) => s !== 'SERVFAIL:' && s !== 'NOERROR:192.0.2.80')).toEqual([]);
    expect(expiredAfter).toBeLessThan(10_000);
    // Every name in the zone, existing or not.
    expect((await ask(ag.host, ag.dns, `nope.${ZONE}`))?.status).toBe('SERVFAIL');
    expect((await ask(ag.host, ag.dns, ZONE, 'SOA'))?.status).toBe('SERVFAIL');
    expect(await metrics(ag.host, ag.metrics)).toMatch(new RegExp(`^dnssync_sync_zone_expired\\{zone="${ZONE.replace(/\./g, '\\.')}"\\} 1$`, 'm'));
    expect(agent.output()).toMatch(/"zone":"expire\.lifecycle\.test","serial":\d+.*"msg":"zone expired/);
    // Not ready: a zone it cannot serve.
    expect((await fetch(`http://${ag.host}:${ag.metrics}/readyz`)).status).toBe(503);

    // The primary is back: confirmed again, served again.
    startPrimary([zoneFile], listen, [ag], keyFile, stateFile);
    const t1 = Date.now();
    await waitFor(async () => (await ask(ag.host, ag.dns, `web.${ZONE}`))?.answers.includes('192.0.2.80'), { what: 'zone served again once confirmed', timeoutMs: 15_000, intervalMs: 100 });
    console.log(`SOA expire: served again ${Date.now() - t1} ms after the primary came back`);
    expect(await metrics(ag.host, ag.metrics)).toMatch(new RegExp(`^dnssync_sync_zone_expired\\{zone="${ZONE.replace(/\./g, '\\.')}"\\} 0$`, 'm'));
    expect(agent.output()).toMatch(/"zone":"expire\.lifecycle\.test","serial":\d+.*"msg":"zone recovered/);
    await waitFor(async () => (await fetch(`http://${ag.host}:${ag.metrics}/readyz`)).status === 200, { what: 'ready again', timeoutMs: 10_000 });
  }, 90_000);
});
