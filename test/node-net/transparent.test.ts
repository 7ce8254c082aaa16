/**
 * Transparent mode as a process, in a private network namespace that plays a node with
 * kube-proxy in iptables mode: nat OUTPUT DNAT rules send the kube-dns ClusterIP
 * (10.96.0.10) and the kube-dns-upstream ClusterIP (10.96.0.20) to a stand-in kube-dns (a
 * second agent serving the Service records and one outside name). The agent under test takes
 * over 10.96.0.10 — its NOTRACK rules make the local socket win over the DNAT — and forwards
 * what it does not know to kube-dns-upstream, which it resolved through kube-dns at start, so
 * nothing loops back to it. On SIGTERM it gives the ClusterIP back to "kube-proxy". After a
 * SIGKILL, the next agent removes the leftovers before asking kube-dns.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../util/wait.js';
import { writeZone } from '../agent/helpers.js';
import { startAgent, type Proc } from './agents.js';
import { perTestNetns } from './netns.js';

const LINK_LOCAL = '169.254.20.10';
const KUBE_DNS = '10.96.0.10';
const UPSTREAM_SVC = '10.96.0.20';
const NODE_IP = '10.200.0.11';
/** The stand-in kube-dns pod. */
const POD = { host: '10.244.1.53', port: 5300 };

const CORP = `$ORIGIN corp.internal.
@ 30 IN SOA ns hostmaster 1 60 10 3600 5
@ 30 IN NS ns
ns 30 IN A 10.0.0.1
api 30 IN A 10.1.2.3
`;
const CLUSTER = `$ORIGIN cluster.local.
@ 30 IN SOA ns hostmaster 1 60 10 3600 5
@ 30 IN NS ns
ns 30 IN A 10.0.0.1
kube-dns-upstream.kube-system.svc 5 IN A ${UPSTREAM_SVC}
kubernetes.default.svc 5 IN A 10.96.0.1
`;

const net = perTestNetns();

beforeEach(async () => {
  const ns = net.ns;
  // The node: its own address, and the Service CIDR routed off the node (kube-proxy rewrites
  // the destination before the packet leaves).
  await ns.exec('ip', ['addr', 'add', `${NODE_IP}/32`, 'dev', 'lo']);
  await ns.exec('ip', ['addr', 'add', `${POD.host}/32`, 'dev', 'lo']);
  await ns.exec('ip', ['route', 'add', '10.96.0.0/16', 'dev', 'lo', 'src', NODE_IP]);
  // kube-proxy (iptables mode): both ClusterIPs DNATed to the kube-dns pod, UDP and TCP.
  for (const ip of [KUBE_DNS, UPSTREAM_SVC]) {
    for (const proto of ['udp', 'tcp']) {
      await ns.exec('iptables', ['-t', 'nat', '-A', 'OUTPUT', '-d', `${ip}/32`, '-p', proto, '--dport', '53', '-j', 'DNAT', '--to-destination', `${POD.host}:${POD.port}`]);
    }
  }
  const kubeDns = startAgent(ns, ['--listen', `${POD.host}:${POD.port}`, '--zone-file', await writeZone(CLUSTER), '--zone-file', await writeZone(`$ORIGIN example.test.
@ 30 IN SOA ns hostmaster 1 60 10 3600 5
@ 30 IN NS ns
ns 30 IN A 10.0.0.1
outside 30 IN A 192.0.2.53
`), '--metrics-listen', `${POD.host}:9255`]);
  net.track(kubeDns);
  await waitFor(async () => (await dig(KUBE_DNS, 'outside.example.test')) === '192.0.2.53', { what: 'the stand-in kube-dns at the ClusterIP', timeoutMs: 15_000 });
});

async function dig(server: string, name: string, tcp = false): Promise<string> {
  const [ok, out] = await net.ns.try('dig', [`@${server}`, name, 'A', '+time=1', '+tries=1', ...(tcp ? ['+tcp'] : [])]);
  if (!ok && !out.includes('status:')) return 'TIMEOUT';
  const status = /status: ([A-Z]+)/.exec(out)?.[1] ?? 'TIMEOUT';
  const answer = /ANSWER SECTION:\n(\S+)\s+\d+\s+IN\s+A\s+(\S+)/.exec(out)?.[2];
  return status === 'NOERROR' && answer !== undefined ? answer : status;
}

/** Queries the stand-in kube-dns has answered (its own query counter). */
async function kubeDnsQueries(): Promise<number> {
  const m = await net.ns.exec('curl', ['-s', `http://${POD.host}:9255/metrics`]);
  return m.split('\n').filter((l) => l.startsWith('dnssync_agent_queries_total')).reduce((n, l) => n + Number(l.split(' ').pop()), 0);
}

async function ourRules(): Promise<string[]> {
  return (await net.ns.exec('iptables-save', [])).split('\n').filter((l) => l.includes('dnssync node-local DNS'));
}

async function hasAddress(addr: string): Promise<boolean> {
  return (await net.ns.exec('ip', ['-o', 'addr', 'show'])).includes(` ${addr}/32 `);
}

function transparentAgent(extra: string[] = []): Proc {
  const p = startAgent(net.ns, [...extra,
    '--listen', `${LINK_LOCAL}:53`, '--listen', `${KUBE_DNS}:53`,
    '--setup-interface', 'dnssync0', '--setup-iptables', '--check-interval', '1s',
    '--upstream-service', 'kube-dns-upstream.kube-system.svc.cluster.local:53', '--upstream-resolver', `${KUBE_DNS}:53`,
    '--metrics-listen', '127.0.0.1:9254', '--zone-file', process.env['CORP_ZONE'] ?? '',
  ]);
  net.track(p);
  return p;
}

describe('transparent mode (the kube-dns ClusterIP taken over on the node)', () => {
  it('answers at the ClusterIP instead of kube-dns, forwards through kube-dns-upstream without looping, and gives the ClusterIP back on SIGTERM', async () => {
    process.env['CORP_ZONE'] = await writeZone(CORP);
    // Before: the ClusterIP is kube-dns, which knows nothing of corp.internal.
    expect(await dig(KUBE_DNS, 'api.corp.internal')).toBe('REFUSED');

    const a = transparentAgent();
    await waitFor(async () => (await dig(KUBE_DNS, 'api.corp.internal')) === '10.1.2.3', { what: 'the agent answering at the kube-dns ClusterIP', timeoutMs: 20_000 });
    expect(a.out).toContain(`"upstreams":["${UPSTREAM_SVC}:53"]`);
    // The rules go in one by one once the sockets are bound (UDP's first): all ten soon after.
    await waitFor(async () => (await ourRules()).filter((r) => r.includes(`${KUBE_DNS}/32`)).length === 10, { what: 'ten rules for the ClusterIP', timeoutMs: 10_000 });
    expect(await dig(KUBE_DNS, 'api.corp.internal', true)).toBe('10.1.2.3');
    expect(await dig(LINK_LOCAL, 'api.corp.internal')).toBe('10.1.2.3');
    expect(await hasAddress(KUBE_DNS)).toBe(true);
    // An outside name goes to kube-dns through the upstream Service: kube-dns sees it once
    // (then the agent's cache answers), and a loop would have timed out instead.
    const before = await kubeDnsQueries();
    expect(await dig(KUBE_DNS, 'outside.example.test')).toBe('192.0.2.53');
    expect(await dig(KUBE_DNS, 'outside.example.test', true)).toBe('192.0.2.53');
    expect(await kubeDnsQueries()).toBe(before + 1);
    expect(await dig(KUBE_DNS, 'kubernetes.default.svc.cluster.local')).toBe('10.96.0.1');

    a.proc.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    expect(await hasAddress(KUBE_DNS)).toBe(false);
    expect(await ourRules()).toEqual([]);
    // kube-proxy's DNAT applies again: the ClusterIP is kube-dns.
    expect(await dig(KUBE_DNS, 'api.corp.internal')).toBe('REFUSED');
    expect(await dig(KUBE_DNS, 'outside.example.test')).toBe('192.0.2.53');
  });

  it('after a SIGKILL the next agent removes the dead one\'s ClusterIP and rules, resolves kube-dns-upstream through kube-proxy and serves', async () => {
    process.env['CORP_ZONE'] = await writeZone(CORP);
    const a = transparentAgent();
    await waitFor(async () => (await dig(KUBE_DNS, 'api.corp.internal')) === '10.1.2.3', { what: 'the first agent serving', timeoutMs: 20_000 });
    a.proc.kill('SIGKILL');
    await a.exited;
    // Left behind: the ClusterIP is local and untracked, and nothing reads it.
    expect(await hasAddress(KUBE_DNS)).toBe(true);
    expect(await dig(KUBE_DNS, 'outside.example.test')).not.toBe('192.0.2.53');

    const b = transparentAgent();
    await waitFor(async () => (await dig(KUBE_DNS, 'api.corp.internal')) === '10.1.2.3', { what: 'the second agent serving', timeoutMs: 30_000 });
    expect(b.out).toContain('removed node networking a dead agent left behind');
    expect(b.out).toContain(`"upstreams":["${UPSTREAM_SVC}:53"]`);
    expect(await dig(KUBE_DNS, 'outside.example.test')).toBe('192.0.2.53');
    // The rules go in one by one once the sockets are bound; all ten soon after.
    await waitFor(async () => (await ourRules()).filter((r) => r.includes(`${KUBE_DNS}/32`)).length === 10, { what: 'ten rules for the ClusterIP', timeoutMs: 10_000 });
  });

  it('an upgrade that turns transparent mode off hands over and gives the ClusterIP back; turning it on again takes it over', async () => {
    process.env['CORP_ZONE'] = await writeZone(CORP);
    const dir = await mkdtemp(join(tmpdir(), 'dnssync-handover-'));
    const on = transparentAgent(['--handover-dir', dir]);
    await waitFor(async () => (await dig(KUBE_DNS, 'api.corp.internal')) === '10.1.2.3', { what: 'the transparent agent serving', timeoutMs: 20_000 });
    // The new agent of the rollout: link-local only, kube-dns (the ClusterIP) as upstream.
    const off = startAgent(net.ns, [
      '--handover-dir', dir, '--listen', `${LINK_LOCAL}:53`, '--setup-interface', 'dnssync0', '--setup-iptables', '--check-interval', '1s',
      '--upstream', `${KUBE_DNS}:53`, '--metrics-listen', '127.0.0.1:9254', '--zone-file', process.env['CORP_ZONE'] ?? '',
    ]);
    net.track(off);
    await waitFor(() => on.out.includes('left the DNS sockets to the newer agent'), { what: 'the old agent leaving the sockets', timeoutMs: 30_000 });
    expect(on.out).toContain('addresses the newer agent does not listen on removed');
    // The ClusterIP is kube-dns again at once, the link-local address is the new agent's.
    expect(await hasAddress(KUBE_DNS)).toBe(false);
    // Polled: dig waits 1 s, and at load 25-30 in the full suite the stand-in kube-dns behind
    // the DNAT missed that twice (TIMEOUT) though the address and rules were gone.
    await waitFor(async () => (await dig(KUBE_DNS, 'api.corp.internal')) === 'REFUSED', { what: 'kube-dns (REFUSED) at the ClusterIP again', timeoutMs: 10_000 });
    expect(await dig(LINK_LOCAL, 'api.corp.internal')).toBe('10.1.2.3');
    expect(await dig(LINK_LOCAL, 'outside.example.test')).toBe('192.0.2.53');
    on.proc.kill('SIGTERM');
    expect(await on.exited).toBe(0);
    expect(await dig(LINK_LOCAL, 'api.corp.internal')).toBe('10.1.2.3');
    expect((await ourRules()).filter((r) => r.includes(`${KUBE_DNS}/32`))).toEqual([]);
    expect(await ourRules()).toHaveLength(10);

    // And back on: the transparent agent asks kube-dns through the older agent (which
    // forwards it) and takes the ClusterIP over.
    const again = transparentAgent(['--handover-dir', dir]);
    await waitFor(async () => (await dig(KUBE_DNS, 'api.corp.internal')) === '10.1.2.3', { what: 'the ClusterIP taken over again', timeoutMs: 30_000 });
    expect(again.out).toContain(`"upstreams":["${UPSTREAM_SVC}:53"]`);
    await waitFor(() => off.out.includes('left the DNS sockets to the newer agent'), { what: 'the link-local-only agent leaving the sockets', timeoutMs: 30_000 });
    off.proc.kill('SIGTERM');
    expect(await off.exited).toBe(0);
    expect(await dig(KUBE_DNS, 'outside.example.test')).toBe('192.0.2.53');
    expect(await dig(LINK_LOCAL, 'api.corp.internal')).toBe('10.1.2.3');
  });

  // Seen in make e2e: the agents forwarded SERVFAIL for a minute after install. An agent that
  // asks the upstream Service before kube-proxy has written its rules leaves a conntrack entry
  // with no DNAT for its socket's 5-tuple, and every later query from that socket follows it
  // into the void for as long as queries keep the entry alive (UDP's 30 s, renewed by each).
  it('asks the upstream Service again through kube-proxy once its rules appear, though its first queries went out before them', async () => {
    await net.ns.exec('iptables', ['-t', 'nat', '-F', 'OUTPUT']);
    await net.ns.exec('iptables', ['-t', 'nat', '-A', 'OUTPUT', '-d', `${KUBE_DNS}/32`, '-p', 'udp', '--dport', '53', '-j', 'DNAT', '--to-destination', `${POD.host}:${POD.port}`]);
    const a = startAgent(net.ns, ['--listen', `${LINK_LOCAL}:53`, '--setup-interface', 'dnssync0', '--upstream', `${UPSTREAM_SVC}:53`, '--upstream-timeout', '300ms']);
    net.track(a);
    await waitFor(async () => (await dig(LINK_LOCAL, 'outside.example.test')) === 'SERVFAIL', { what: 'the agent answering SERVFAIL while the Service has no rules', timeoutMs: 20_000 });
    // kube-proxy catches up.
    for (const proto of ['udp', 'tcp']) {
      await net.ns.exec('iptables', ['-t', 'nat', '-A', 'OUTPUT', '-d', `${UPSTREAM_SVC}/32`, '-p', proto, '--dport', '53', '-j', 'DNAT', '--to-destination', `${POD.host}:${POD.port}`]);
    }
    // Asked every 250 ms, the untranslated entry would never expire.
    await waitFor(async () => (await dig(LINK_LOCAL, 'outside.example.test')) === '192.0.2.53', { what: 'outside.example.test through the upstream Service', timeoutMs: 15_000, intervalMs: 250 });
  });

  it('refuses an upstream that is one of its own listen addresses', async () => {
    const p = startAgent(net.ns, ['--listen', `${KUBE_DNS}:53`, '--upstream', `${KUBE_DNS}:53`]);
    net.track(p);
    expect(await p.exited).toBe(2);
    expect(p.out).toContain(`--upstream: ${KUBE_DNS}:53 is also a --listen address: queries would loop back to this agent`);
  });
});
