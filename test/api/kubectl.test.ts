/**
 * What a person sees with kubectl: printer columns, short names, the category, explain,
 * the refusal message at apply, and the status subresource the controller writes through.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { CoreV1Api } from '@kubernetes/client-node';
import { sharedControlPlane, uniqueNamespace } from '../controlplane/shared.js';

const cp = sharedControlPlane();
const ns = uniqueNamespace('api-kubectl');
const zoneName = `${ns}-zone`;

async function kubectlOk(args: string[], input?: string): Promise<string> {
  const r = await cp.kubectl(args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** `kubectl get` output as rows of cells, split on the runs of spaces kubectl pads with. */
function table(out: string): string[][] {
  return out.trimEnd().split('\n').map((l) => l.trim().split(/\s{2,}/));
}

const records = `
apiVersion: dnssync.io/v1alpha1
kind: DNSRecord
metadata: {name: api, namespace: ${ns}}
spec: {name: api.shop.corp.internal., type: A, ttl: 30, values: ["10.1.2.3", "10.1.2.4"]}
---
apiVersion: dnssync.io/v1alpha1
kind: DNSRecord
metadata: {name: web-srv, namespace: ${ns}}
spec: {name: _https._tcp.shop.corp.internal., type: SRV, values: ["10 5 443 web.corp.internal."]}
---
apiVersion: dnssync.io/v1alpha1
kind: DNSZone
metadata: {name: ${zoneName}}
spec: {zone: shop.corp.internal., defaultTTL: 30}
`;

describe('kubectl against the CRDs', () => {
  beforeAll(async () => {
    await cp.kubeConfig().makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
    await kubectlOk(['apply', '-f', '-'], records);
    // The controller's part, done by hand: status through the status subresource.
    const now = new Date().toISOString();
    const ready = { type: 'Ready', status: 'True', reason: 'Applied', message: 'applied on 3/3 nodes', lastTransitionTime: now, observedGeneration: 1 };
    await kubectlOk([
      'patch', '-n', ns, 'dnsrecord', 'api', '--subresource=status', '--type=merge',
      '-p', JSON.stringify({ status: { observedGeneration: 1, nodes: '3/3', zone: 'shop.corp.internal.', conditions: [ready] } }),
    ]);
    await kubectlOk([
      'patch', 'dnszone', zoneName, '--subresource=status', '--type=merge',
      '-p', JSON.stringify({ status: { observedGeneration: 1, serial: 2026112501, records: 2, nodes: '3/3', conditions: [ready] } }),
    ]);
  });

  it('kubectl get dnsrecords shows NAME TYPE DATA TTL READY NODES AGE', async () => {
    const rows = table(await kubectlOk(['get', 'dnsrecords', '-n', ns]));
    expect(rows[0]).toEqual(['NAME', 'TYPE', 'DATA', 'TTL', 'READY', 'NODES', 'AGE']);
    const api = rows.find((r) => r[0] === 'api');
    expect(api?.slice(0, 6)).toEqual(['api', 'A', '["10.1.2.3","10.1.2.4"]', '30', 'True', '3/3']);
    expect(api?.[6]).toMatch(/^\d+s$/);
    // No TTL, no status yet: the cells are empty, and the age comes right after the data.
    const srv = rows.find((r) => r[0] === 'web-srv');
    expect(srv?.slice(0, 3)).toEqual(['web-srv', 'SRV', '["10 5 443 web.corp.internal."]']);
  });

  it('kubectl get dnsrecords -o wide adds the DNS name and the zone', async () => {
    const rows = table(await kubectlOk(['get', 'dnsrec', '-n', ns, '-o', 'wide']));
    expect(rows[0]).toEqual(['NAME', 'TYPE', 'DATA', 'TTL', 'READY', 'NODES', 'AGE', 'DNS NAME', 'ZONE']);
    expect(rows.find((r) => r[0] === 'api')?.slice(7)).toEqual(['api.shop.corp.internal.', 'shop.corp.internal.']);
  });

  it('kubectl get dnszones shows ZONE SERIAL RECORDS NODES', async () => {
    const rows = table(await kubectlOk(['get', 'dnsz', zoneName]));
    expect(rows[0]).toEqual(['NAME', 'ZONE', 'SERIAL', 'RECORDS', 'NODES', 'AGE']);
    expect(rows[1]?.slice(0, 5)).toEqual([zoneName, 'shop.corp.internal.', '2026112501', '2', '3/3']);
  });

  it('the dnssync category lists both kinds', async () => {
    const out = await kubectlOk(['get', 'dnssync', '-A', '-o', 'name']);
    expect(out).toContain('dnsrecord.dnssync.io/api');
    expect(out).toContain(`dnszone.dnssync.io/${zoneName}`);
  });

  it('a spec update cannot write status, and a status update cannot write spec', async () => {
    await kubectlOk(['patch', '-n', ns, 'dnsrecord', 'api', '--type=merge', '-p', '{"status":{"nodes":"0/3"},"spec":{"ttl":60}}']);
    await kubectlOk(['patch', '-n', ns, 'dnsrecord', 'api', '--subresource=status', '--type=merge', '-p', '{"spec":{"ttl":90}}']);
    const obj = JSON.parse(await kubectlOk(['get', '-n', ns, 'dnsrecord', 'api', '-o', 'json'])) as {
      metadata: { generation: number };
      spec: { ttl: number };
      status: { nodes: string };
    };
    expect(obj.spec.ttl).toBe(60);
    expect(obj.status.nodes).toBe('3/3');
    expect(obj.metadata.generation).toBe(2);
  });

  it('kubectl explain dnsrecord.spec.values prints its description', async () => {
    const out = await kubectlOk(['explain', 'dnsrecord.spec.values']);
    expect(out).toMatch(/FIELD:\s+values\s+<\[\]string>/);
    expect(out).toContain('The record data, one RR per value, in zone-file presentation format.');
    expect(out.replace(/\s+/g, ' ')).toContain("SRV: 'priority weight port target'");
  });

  it('kubectl explain reaches status and nested fields', async () => {
    const rec = await kubectlOk(['explain', 'dnsrecord', '--recursive']);
    for (const f of ['name', 'type', 'ttl', 'values', 'observedGeneration', 'nodes', 'conditions', 'zone']) expect(rec).toMatch(new RegExp(`\\b${f}\\b`));
    const zone = await kubectlOk(['explain', 'dnszone.spec.soa.negativeTTL']);
    expect(zone).toContain('RFC 2308');
  });

  it('kubectl apply of a bad record fails with the field and the rule', async () => {
    const bad = `
apiVersion: dnssync.io/v1alpha1
kind: DNSRecord
metadata: {name: bad, namespace: ${ns}}
spec: {name: _sip._udp.shop.corp.internal., type: SRV, values: ["10 5 99999 sip.corp.internal."]}
`;
    const r = await cp.kubectl(['apply', '-f', '-'], bad);
    expect(r.code).not.toBe(0);
    // kubectl 1.35 names the kind, older ones the resource (DNSRecord.dnssync.io).
    expect(r.stderr).toMatch(/DNSRecord(\.dnssync\.io)? "bad" is invalid: spec\.values: Invalid value: an SRV port must be 0 to 65535/);
  });
});
