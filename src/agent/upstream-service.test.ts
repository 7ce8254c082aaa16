import { mkdtemp, writeFile } from 'node:fs/promises';
import dgram from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configureLogger } from '../observability/logger.js';
import { Agent } from './agent.js';
import { loopingUpstreams, resolveUpstreamService, UpstreamServiceError } from './upstream-service.js';
import { loadZoneFile } from './zone-files.js';
import { ZoneStore } from '../zone/store.js';

configureLogger('warn');

describe('loopingUpstreams', () => {
  it('finds an upstream that is one of our own listen addresses (transparent mode with the kube-dns ClusterIP as upstream)', () => {
    const listen = [{ host: '169.254.20.10', port: 53 }, { host: '10.96.0.10', port: 53 }];
    expect(loopingUpstreams(listen, [{ host: '10.96.0.10', port: 53 }, { host: '10.96.0.20', port: 53 }])).toEqual([{ host: '10.96.0.10', port: 53 }]);
    expect(loopingUpstreams(listen, [{ host: '10.96.0.10', port: 5353 }])).toEqual([]);
    expect(loopingUpstreams([{ host: 'FD00::10', port: 53 }], [{ host: 'fd00::10', port: 53 }])).toHaveLength(1);
  });
});

describe('resolveUpstreamService', () => {
  let agent: Agent;
  let silent: dgram.Socket;
  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'upstream-service-'));
    const file = join(dir, 'svc.zone');
    await writeFile(file, [
      '$ORIGIN svc.cluster.local.',
      '@ 30 IN SOA ns hostmaster 1 60 10 3600 5',
      '@ 30 IN NS ns',
      'ns 30 IN A 10.0.0.1',
      'kube-dns-upstream.kube-system 5 IN A 10.96.0.20',
      'two.kube-system 5 IN A 10.96.0.21',
      'two.kube-system 5 IN A 10.96.0.22',
      'loopback.kube-system 5 IN A 127.0.0.1',
      '',
    ].join('\n'));
    const store = new ZoneStore();
    store.set(await loadZoneFile(file));
    agent = await Agent.start({ store, listen: [{ host: '127.0.0.1', port: 0 }], upstreams: [] });
    silent = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await agent.stop(0);
    silent.close();
  });

  it("returns the Service's addresses with the given port", async () => {
    const resolver = agent.addresses[0]!;
    expect(await resolveUpstreamService({ name: 'kube-dns-upstream.kube-system.svc.cluster.local', port: 53, resolver, deadlineMs: 5_000 })).toEqual([{ host: '10.96.0.20', port: 53 }]);
    const two = await resolveUpstreamService({ name: 'two.kube-system.svc.cluster.local', port: 5353, resolver, deadlineMs: 5_000 });
    expect(two.map((u) => u.host).sort()).toEqual(['10.96.0.21', '10.96.0.22']);
    expect(two.every((u) => u.port === 5353)).toBe(true);
  });

  it('retries a name that does not exist yet, then fails naming it, the resolver and the last error', async () => {
    const resolver = agent.addresses[0]!;
    const retries: string[] = [];
    const err = await resolveUpstreamService({ name: 'absent.kube-system.svc.cluster.local', port: 53, resolver, deadlineMs: 1_500 }, (r) => {
      retries.push(r);
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamServiceError);
    expect(String(err)).toContain(`absent.kube-system.svc.cluster.local did not resolve through 127.0.0.1:${resolver.port}`);
    expect(String(err)).toMatch(/last: ENOTFOUND/);
    expect(retries.length).toBeGreaterThan(0);
  });

  // Seen in make e2e: the chart installed again within kube-dns's cache TTL, kube-dns handed
  // the agents the deleted kube-dns-upstream's ClusterIP, and they forwarded into the void.
  it('with probe, keeps retrying while the resolved address does not answer, and says so', async () => {
    const resolver = agent.addresses[0]!;
    const dead = (silent.address()).port;
    const retries: string[] = [];
    const err = await resolveUpstreamService({ name: 'loopback.kube-system.svc.cluster.local', port: dead, resolver, deadlineMs: 1_500, attemptMs: 300, probe: true }, (r) => {
      retries.push(r);
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamServiceError);
    expect(String(err)).toContain(`last: resolved to 127.0.0.1:${dead}, which did not answer`);
    expect(retries.length).toBeGreaterThan(0);
    // The same name where a DNS server does answer (the agent itself: any answer counts).
    expect(await resolveUpstreamService({ name: 'loopback.kube-system.svc.cluster.local', port: resolver.port, resolver, deadlineMs: 5_000, probe: true })).toEqual([{ host: '127.0.0.1', port: resolver.port }]);
  });

  it('gives up on a resolver that never answers', async () => {
    const port = (silent.address()).port;
    const err = await resolveUpstreamService({ name: 'kube-dns-upstream.kube-system.svc.cluster.local', port: 53, resolver: { host: '127.0.0.1', port }, deadlineMs: 200, attemptMs: 300 }).catch((e: unknown) => e);
    expect(String(err)).toMatch(/did not resolve .* \(last: ETIMEOUT\)/);
  });
});
