/**
 * The agent's node networking as a process, in a private network namespace: the listen
 * address put on an interface (a dummy one, or lo where the kernel has no dummy type), the
 * NOTRACK/ACCEPT rules, answers on that address, /healthz failing when the address goes,
 * the periodic repair, and removal of everything on SIGTERM.
 */
import { describe, expect, it } from 'vitest';
import { waitFor } from '../util/wait.js';
import { writeZone } from '../agent/helpers.js';
import { CORP_ZONE, NODE_LOCAL_ADDR, startAgent, type Proc } from './agents.js';
import { perTestNetns } from './netns.js';

const ADDR = NODE_LOCAL_ADDR;
const ZONE = CORP_ZONE;

const net = perTestNetns();

async function ourRules(): Promise<string[]> {
  const save = await net.ns.exec('iptables-save', []);
  return save.split('\n').filter((l) => l.includes('dnssync node-local DNS'));
}

async function addressOn(): Promise<string | undefined> {
  const out = await net.ns.exec('ip', ['-o', 'addr', 'show']);
  const line = out.split('\n').find((l) => l.includes(` ${ADDR}/32 `));
  return line?.split(/\s+/)[1];
}

async function healthz(): Promise<[number, string]> {
  const [, out] = await net.ns.try('curl', ['-s', '-w', '\n%{http_code}', 'http://127.0.0.1:9254/healthz']);
  const lines = out.trim().split('\n');
  return [Number(lines.pop()), lines.join('\n')];
}

async function answer(): Promise<string> {
  return (await net.ns.exec('dig', [`@${ADDR}`, 'api.corp.internal', 'A', '+short', '+time=1', '+tries=1'])).trim();
}

function agent(extra: string[] = []): Proc {
  const p = startAgent(net.ns, ['--listen', `${ADDR}:53`, '--setup-interface', 'dnssync0', '--setup-iptables', '--metrics-listen', '127.0.0.1:9254', ...extra]);
  net.track(p);
  return p;
}

describe('agent node networking', () => {
  it('puts the address on an interface, adds the rules, answers there, and removes both on SIGTERM', async () => {
    const zone = await writeZone(ZONE);
    const a = agent(['--zone-file', zone]);
    const device = await waitFor(addressOn, { what: `${ADDR} on an interface`, timeoutMs: 15_000 });
    // This kernel may lack the dummy type: then lo holds it, and the agent said so.
    if (device === 'lo') expect(a.out).toContain('no dummy link type in this kernel');
    else expect(device).toBe('dnssync0');
    const rules = await waitFor(async () => ((await ourRules()).length === 10 ? ourRules() : undefined), { what: 'ten iptables rules', timeoutMs: 15_000 });
    expect(rules.filter((r) => r.includes('-j NOTRACK'))).toHaveLength(6);
    expect(rules.filter((r) => r.includes('-j ACCEPT'))).toHaveLength(4);
    expect(rules).toContain(`-A PREROUTING -d ${ADDR}/32 -p udp -m udp --dport 53 -m comment --comment "dnssync node-local DNS" -j NOTRACK`);
    expect(await answer()).toBe('10.1.2.3');
    expect(await net.ns.exec('dig', [`@${ADDR}`, 'api.corp.internal', 'A', '+short', '+tcp', '+time=1', '+tries=1'])).toContain('10.1.2.3');
    await waitFor(async () => (await healthz())[0] === 200, { what: '/healthz 200' });

    a.proc.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    expect(await addressOn()).toBeUndefined();
    expect(await ourRules()).toEqual([]);
    if (device === 'dnssync0') expect((await net.ns.try('ip', ['link', 'show', 'dnssync0']))[0]).toBe(false);
    else expect((await net.ns.exec('ip', ['-o', 'addr', 'show', 'dev', 'lo']))).toContain('127.0.0.1/8');
  });

  it('puts back a removed address and removed rules within the check interval, and counts it', async () => {
    const zone = await writeZone(ZONE);
    const a = agent(['--zone-file', zone, '--check-interval', '500ms']);
    const device = await waitFor(addressOn, { what: `${ADDR} on an interface`, timeoutMs: 15_000 });
    await waitFor(async () => (await ourRules()).length === 10, { what: 'ten rules', timeoutMs: 15_000 });
    await net.ns.exec('ip', ['addr', 'del', `${ADDR}/32`, 'dev', device]);
    await net.ns.exec('iptables', ['-t', 'raw', '-F']);
    await net.ns.exec('iptables', ['-t', 'filter', '-F']);
    expect(await ourRules()).toEqual([]);
    await waitFor(async () => (await addressOn()) !== undefined && (await ourRules()).length === 10, { what: 'address and rules repaired', timeoutMs: 5_000 });
    expect(await answer()).toBe('10.1.2.3');
    const metrics = await net.ns.exec('curl', ['-s', 'http://127.0.0.1:9254/metrics']);
    expect(metrics).toMatch(/dnssync_agent_node_network_repairs_total\{what="address"\} [1-9]/);
    expect(metrics).toMatch(/dnssync_agent_node_network_repairs_total\{what="rule"\} 10/);
    expect(a.out).toContain('listen address was gone: added it again');
  });

  it('/healthz fails while the listen address is gone, and passes again once it is back', async () => {
    const zone = await writeZone(ZONE);
    // No repair during this test: an hour between checks.
    agent(['--zone-file', zone, '--check-interval', '1h']);
    const device = await waitFor(addressOn, { what: `${ADDR} on an interface`, timeoutMs: 15_000 });
    await waitFor(async () => (await healthz())[0] === 200, { what: '/healthz 200', timeoutMs: 15_000 });
    await net.ns.exec('ip', ['addr', 'del', `${ADDR}/32`, 'dev', device]);
    const [code, body] = await healthz();
    expect(code).toBe(503);
    expect(body).toContain(`listen address not on any interface: ${ADDR}`);
    await net.ns.exec('ip', ['addr', 'add', `${ADDR}/32`, 'dev', device]);
    expect((await healthz())[0]).toBe(200);
  });
});
