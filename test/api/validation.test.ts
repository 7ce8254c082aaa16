/**
 * The API server itself refuses bad DNSRecords and DNSZones: OpenAPI schema plus CEL rules
 * from crds/. Each refused object must come back with a message that names the field and the
 * rule, because that message is all a person sees at `kubectl apply`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiException, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { sharedControlPlane, uniqueNamespace } from '../controlplane/shared.js';

const group = 'dnssync.io';
const version = 'v1alpha1';

type Spec = Record<string, unknown>;

interface Invalid {
  readonly title: string;
  readonly kind: 'DNSRecord' | 'DNSZone';
  readonly spec: Spec | undefined;
  /** The field path the error must name, e.g. spec.values. */
  readonly field: string;
  /** The rule, as the message words it. */
  readonly rule: RegExp;
}

const rec = (title: string, spec: Spec | undefined, field: string, rule: RegExp): Invalid => ({ title, kind: 'DNSRecord', spec, field, rule });
const zone = (title: string, spec: Spec | undefined, field: string, rule: RegExp): Invalid => ({ title, kind: 'DNSZone', spec, field, rule });

const owner = 'api.shop.corp.internal.';
const label63 = 'a'.repeat(63);
const label64 = 'a'.repeat(64);
// 4 labels of 63 + 3 dots = 255, trimmed to the length wanted.
const longName = (n: number): string => [label63, label63, label63, label63].join('.').slice(0, n);

const dnsName = /must be a DNS name/;
const ipv4 = /an A record's values must be IPv4 addresses/;
const ipv6 = /an AAAA record's values must be IPv6 addresses/;
const domainValues = /CNAME, PTR and NS values must be domain names/;

const invalid: Invalid[] = [
  // owner names
  rec('empty label in the name', { name: 'api..corp.internal.', type: 'A', values: ['192.0.2.1'] }, 'spec.name', dnsName),
  rec('space in the name', { name: 'my api.corp.internal.', type: 'A', values: ['192.0.2.1'] }, 'spec.name', dnsName),
  rec('wildcard not the leftmost label', { name: 'a.*.corp.internal.', type: 'A', values: ['192.0.2.1'] }, 'spec.name', dnsName),
  rec('wildcard inside a label', { name: 'a*.corp.internal.', type: 'A', values: ['192.0.2.1'] }, 'spec.name', dnsName),
  rec('non-ASCII name (IDN not in punycode)', { name: 'bücher.corp.internal.', type: 'A', values: ['192.0.2.1'] }, 'spec.name', dnsName),
  rec('name is only the root', { name: '.', type: 'A', values: ['192.0.2.1'] }, 'spec.name', dnsName),
  rec('label of 64 octets', { name: `${label64}.corp.internal.`, type: 'A', values: ['192.0.2.1'] }, 'spec.name', /each label \(the part between dots\) must be at most 63 octets/),
  rec('name of 254 octets without the trailing dot', { name: longName(254).replace(/\.$/, 'a'), type: 'A', values: ['192.0.2.1'] }, 'spec.name', /must be at most 253 octets, not counting the trailing dot/),
  rec('name longer than 254 characters', { name: longName(255), type: 'A', values: ['192.0.2.1'] }, 'spec.name', /Too long: may not be (longer|more) than 254/),
  // type, ttl, values
  rec('lower-case type', { name: owner, type: 'a', values: ['192.0.2.1'] }, 'spec.type', /Unsupported value: "a": supported values: "A", "AAAA", "CNAME"/),
  rec('unsupported type SOA', { name: owner, type: 'SOA', values: ['x'] }, 'spec.type', /Unsupported value: "SOA"/),
  rec('negative TTL', { name: owner, type: 'A', ttl: -1, values: ['192.0.2.1'] }, 'spec.ttl', /should be greater than or equal to 0/),
  rec('TTL above 2^31-1', { name: owner, type: 'A', ttl: 2147483648, values: ['192.0.2.1'] }, 'spec.ttl', /should be less than or equal to 2147483647/),
  rec('no values', { name: owner, type: 'A', values: [] }, 'spec.values', /should have at least 1 items/),
  rec('values missing', { name: owner, type: 'A' }, 'spec.values', /Required value/),
  rec('name missing', { type: 'A', values: ['192.0.2.1'] }, 'spec.name', /Required value/),
  rec('spec missing', undefined, 'spec', /Required value/),
  rec('the same value twice', { name: owner, type: 'A', values: ['192.0.2.1', '192.0.2.1'] }, 'spec.values[1]', /Duplicate value: "192.0.2.1"/),
  rec('more than 100 values', { name: owner, type: 'TXT', values: Array.from({ length: 101 }, (_, i) => `t${i}`) }, 'spec.values', /Too many: 101: must have at most 100 items/),
  rec('a TXT value over 2048 characters', { name: owner, type: 'TXT', values: ['x'.repeat(2049)] }, 'spec.values[0]', /Too long: may not be (longer|more) than 2048/),
  // A and AAAA
  rec('A value out of range', { name: owner, type: 'A', values: ['192.0.2.1', '300.1.2.3'] }, 'spec.values', ipv4),
  rec('A value is IPv6', { name: owner, type: 'A', values: ['2001:db8::1'] }, 'spec.values', ipv4),
  rec('A value is a CIDR', { name: owner, type: 'A', values: ['10.0.0.0/8'] }, 'spec.values', ipv4),
  rec('A value is a name', { name: owner, type: 'A', values: ['web.corp.internal.'] }, 'spec.values', ipv4),
  rec('A value with a leading zero', { name: owner, type: 'A', values: ['010.1.2.3'] }, 'spec.values', ipv4),
  rec('AAAA value is IPv4', { name: owner, type: 'AAAA', values: ['192.0.2.1'] }, 'spec.values', ipv6),
  rec('AAAA value with a bad hex digit', { name: owner, type: 'AAAA', values: ['2001:db8::g'] }, 'spec.values', ipv6),
  // CNAME, PTR, NS
  rec('CNAME with two values', { name: owner, type: 'CNAME', values: ['a.corp.internal.', 'b.corp.internal.'] }, 'spec.values', /a CNAME record must have exactly one value/),
  rec('CNAME target @ inside a name', { name: owner, type: 'CNAME', values: ['web.@'] }, 'spec.values', domainValues),
  rec('CNAME target with a space', { name: owner, type: 'CNAME', values: ['web corp.internal.'] }, 'spec.values', domainValues),
  rec('CNAME target with a 64-octet label', { name: owner, type: 'CNAME', values: [`${label64}.corp.internal.`] }, 'spec.values', /each label of a domain name in values must be at most 63 octets/),
  rec('PTR target with an empty label', { name: '1.2.0.192.in-addr.arpa.', type: 'PTR', values: ['host..corp.internal.'] }, 'spec.values', domainValues),
  rec('NS value with a second word', { name: 'sub.corp.internal.', type: 'NS', values: ['ns1.corp.internal. 3600'] }, 'spec.values', domainValues),
  rec('NS target longer than 253 octets', { name: 'sub.corp.internal.', type: 'NS', values: [longName(254).replace(/\.$/, 'a')] }, 'spec.values', /a domain name in values must be at most 253 octets/),
  // MX
  rec('MX without a preference', { name: owner, type: 'MX', values: ['mail.corp.internal.'] }, 'spec.values', /MX values must be 'preference exchange'/),
  rec('MX preference above 65535', { name: owner, type: 'MX', values: ['70000 mail.corp.internal.'] }, 'spec.values', /an MX preference must be 0 to 65535/),
  // SRV
  rec('SRV with three fields', { name: '_http._tcp.corp.internal.', type: 'SRV', values: ['10 5 web.corp.internal.'] }, 'spec.values', /SRV values must be 'priority weight port target'/),
  rec('SRV port 65536', { name: '_http._tcp.corp.internal.', type: 'SRV', values: ['10 5 65536 web.corp.internal.'] }, 'spec.values', /an SRV port must be 0 to 65535/),
  rec('SRV priority 70000', { name: '_http._tcp.corp.internal.', type: 'SRV', values: ['70000 5 443 web.corp.internal.'] }, 'spec.values', /an SRV priority and weight must be 0 to 65535/),
  rec('SRV target with a 64-octet label', { name: '_http._tcp.corp.internal.', type: 'SRV', values: [`1 1 443 ${label64}.corp.`] }, 'spec.values', /each label of a domain name in values must be at most 63 octets/),
  // CAA
  rec('CAA without a value', { name: owner, type: 'CAA', values: ['0 issue'] }, 'spec.values', /CAA values must be 'flags tag "value"'/),
  rec('CAA tag with a dash', { name: owner, type: 'CAA', values: ['0 is-sue "ca.example"'] }, 'spec.values', /CAA values must be 'flags tag "value"'/),
  rec('CAA flags 256', { name: owner, type: 'CAA', values: ['256 issue "ca.example"'] }, 'spec.values', /CAA flags must be 0 to 255/),
  // one RRset must fit one DNS message (issue #12 item 7)
  rec('100 TXT values of 2048 characters', { name: owner, type: 'TXT', values: Array.from({ length: 100 }, (_, i) => String(i).padStart(3, '0') + 'x'.repeat(2045)) }, 'spec.values', /TXT and CAA values together must be at most 60000 characters/),
  rec('CAA values over 60000 characters', { name: owner, type: 'CAA', values: Array.from({ length: 40 }, (_, i) => `0 issue "${String(i).padStart(2, '0')}${'c'.repeat(1500)}"`) }, 'spec.values', /TXT and CAA values together must be at most 60000 characters/),
  // DNSZone
  zone('zone with an empty label', { zone: 'corp..internal.' }, 'spec.zone', dnsName),
  zone('zone is a wildcard', { zone: '*.corp.internal.' }, 'spec.zone', dnsName),
  zone('zone label of 64 octets', { zone: `${label64}.internal.` }, 'spec.zone', /each label \(the part between dots\) must be at most 63 octets/),
  zone('zone missing', { defaultTTL: 30 }, 'spec.zone', /Required value/),
  zone('negative defaultTTL', { zone: 'corp.internal.', defaultTTL: -5 }, 'spec.defaultTTL', /should be greater than or equal to 0/),
  zone('SOA refresh 0', { zone: 'corp.internal.', soa: { refresh: 0 } }, 'spec.soa.refresh', /should be greater than or equal to 1/),
  zone('SOA expire below refresh', { zone: 'corp.internal.', soa: { refresh: 600, expire: 60 } }, 'spec.soa.expire', /expire must be at least refresh/),
  zone('selector In without values', { zone: 'corp.internal.', namespaceSelector: { matchExpressions: [{ key: 'team', operator: 'In' }] } }, 'spec.namespaceSelector.matchExpressions[0]', /values must be non-empty for the operators In and NotIn/),
  zone('selector Exists with values', { zone: 'corp.internal.', namespaceSelector: { matchExpressions: [{ key: 'team', operator: 'Exists', values: ['a'] }] } }, 'spec.namespaceSelector.matchExpressions[0]', /empty for Exists and DoesNotExist/),
  zone('selector operator Equals', { zone: 'corp.internal.', namespaceSelector: { matchExpressions: [{ key: 'team', operator: 'Equals', values: ['a'] }] } }, 'spec.namespaceSelector.matchExpressions[0].operator', /Unsupported value: "Equals"/),
];

interface Valid {
  readonly title: string;
  readonly kind: 'DNSRecord' | 'DNSZone';
  readonly spec: Spec;
}

const ok = (title: string, spec: Spec): Valid => ({ title, kind: 'DNSRecord', spec });
const okZone = (title: string, spec: Spec): Valid => ({ title, kind: 'DNSZone', spec });

const valid: Valid[] = [
  ok('A with two values', { name: owner, type: 'A', ttl: 30, values: ['10.1.2.3', '10.1.2.4'] }),
  ok('A with TTL 0 and no trailing dot', { name: 'zero.corp.internal', type: 'A', ttl: 0, values: ['192.0.2.1'] }),
  ok('A with the largest TTL', { name: 'max.corp.internal.', type: 'A', ttl: 2147483647, values: ['255.255.255.255'] }),
  ok('A at a wildcard name', { name: '*.apps.corp.internal.', type: 'A', values: ['192.0.2.80'] }),
  ok('A at a mixed-case name', { name: 'API.Shop.Corp.Internal.', type: 'A', values: ['192.0.2.2'] }),
  ok('A at a 253-octet name with 63-octet labels', { name: longName(253), type: 'A', values: ['192.0.2.3'] }),
  ok('AAAA', { name: owner, type: 'AAAA', values: ['2001:db8::10', '2001:db8:0:0:0:0:0:11', 'fe80::1'] }),
  ok('CNAME', { name: 'www.corp.internal.', type: 'CNAME', values: ['web.corp.internal.'] }),
  ok('CNAME to a name relative to the zone, upper case', { name: 'WWW2.corp.internal', type: 'CNAME', values: ['Web'] }),
  ok('CNAME to the zone apex (@)', { name: 'www3.corp.internal.', type: 'CNAME', values: ['@'] }),
  ok('TXT with spaces and quotes', { name: 'corp.internal.', type: 'TXT', values: ['v=spf1 -all', 'say "hello"; ok'] }),
  ok('TXT longer than 255 octets (split into strings)', { name: 'dkim._domainkey.corp.internal.', type: 'TXT', values: ['k=rsa; p=' + 'A'.repeat(400)] }),
  ok('TXT values of 56000 characters together', { name: 'big.corp.internal.', type: 'TXT', values: Array.from({ length: 40 }, (_, i) => String(i).padStart(2, '0') + 'y'.repeat(1398)) }),
  ok('TXT empty string', { name: 'empty.corp.internal.', type: 'TXT', values: [''] }),
  ok('SRV at an underscore name', { name: '_https._tcp.shop.corp.internal.', type: 'SRV', values: ['10 5 443 web.corp.internal.', '20 0 65535 web2.corp.internal'] }),
  ok('SRV "service not available" target', { name: '_ldap._tcp.corp.internal.', type: 'SRV', values: ['0 0 0 .'] }),
  ok('MX, absolute and relative exchanges', { name: 'corp.internal.', type: 'MX', values: ['10 mail.corp.internal.', '65535 backup', '20 @'] }),
  ok('MX null (RFC 7505)', { name: 'nomail.corp.internal.', type: 'MX', values: ['0 .'] }),
  ok('PTR', { name: '3.2.1.10.in-addr.arpa.', type: 'PTR', values: ['api.shop.corp.internal.'] }),
  ok('NS', { name: 'sub.corp.internal.', type: 'NS', values: ['ns1.corp.internal.', 'ns2.corp.internal.'] }),
  ok('CAA issue, issuewild and iodef', { name: 'corp.internal.', type: 'CAA', values: ['0 issue "letsencrypt.org"', '128 issuewild ";"', '0 iodef "mailto:security@corp.internal"'] }),
  okZone('minimal zone', { zone: 'corp.internal.' }),
  okZone('zone with every field', {
    zone: 'Shop.Corp.Internal',
    defaultTTL: 60,
    soa: { refresh: 60, retry: 10, expire: 3600, negativeTTL: 5 },
    namespaceSelector: {
      matchLabels: { 'dns.corp/publish': 'true' },
      matchExpressions: [
        { key: 'team', operator: 'In', values: ['shop', 'web'] },
        { key: 'frozen', operator: 'DoesNotExist' },
      ],
    },
  }),
];

function statusMessage(err: unknown): string {
  if (!(err instanceof ApiException)) throw err;
  const body: unknown = err.body;
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  try {
    const parsed = JSON.parse(text) as { message?: string };
    return `HTTP ${err.code}: ${parsed.message ?? text}`;
  } catch {
    return `HTTP ${err.code}: ${text}`;
  }
}

/** The causes in a 422 message ("...is invalid: [a: x, b: y]") that are about `field` itself. */
function errorsFor(msg: string, field: string): string[] {
  const causes = msg.split(/(?:is invalid: \[?|, )(?=(?:spec|metadata|status)[.:[])/).slice(1);
  return causes.filter((c) => c.startsWith(`${field}: `));
}

describe('API server validation of DNSRecord and DNSZone', () => {
  const cp = sharedControlPlane();
  const kc = cp.kubeConfig();
  const objects = kc.makeApiClient(CustomObjectsApi);
  const ns = uniqueNamespace('api-validation');
  let n = 0;

  beforeAll(async () => {
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
  });

  afterAll(async () => {
    // Zones are cluster-scoped: remove ours so other suites see only their own.
    const list = (await objects.listClusterCustomObject({ group, version, plural: 'dnszones', labelSelector: `test=${ns}` })) as {
      items: { metadata: { name: string } }[];
    };
    for (const z of list.items) await objects.deleteClusterCustomObject({ group, version, plural: 'dnszones', name: z.metadata.name });
  });

  function create(kind: 'DNSRecord' | 'DNSZone', spec: Spec | undefined): Promise<unknown> {
    const name = `t${++n}`;
    const body = { apiVersion: `${group}/${version}`, kind, metadata: { name: `${ns}-${name}`, labels: { test: ns } }, ...(spec ? { spec } : {}) };
    if (kind === 'DNSRecord') {
      return objects.createNamespacedCustomObject({ group, version, namespace: ns, plural: 'dnsrecords', body: { ...body, metadata: { name, labels: { test: ns } } } });
    }
    return objects.createClusterCustomObject({ group, version, plural: 'dnszones', body });
  }

  it('has at least 30 invalid and 15 valid cases, every record type among the valid ones', () => {
    expect(invalid.length).toBeGreaterThanOrEqual(30);
    expect(valid.length).toBeGreaterThanOrEqual(15);
    const types = new Set(valid.filter((v) => v.kind === 'DNSRecord').map((v) => v.spec['type']));
    expect([...types].sort()).toEqual(['A', 'AAAA', 'CAA', 'CNAME', 'MX', 'NS', 'PTR', 'SRV', 'TXT']);
  });

  it.each(invalid.map((c) => [c.title, c] as const))('refuses %s', async (_title, c) => {
    const err = await create(c.kind, c.spec).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err, 'the API server accepted it').toBeDefined();
    const msg = statusMessage(err);
    expect(msg).toMatch(/^HTTP 422: /);
    // "spec.values: Invalid value: ...: <rule>" — the field, then what its rule says.
    expect(errorsFor(msg, c.field).some((e) => c.rule.test(e)), `no "${c.field}" error matching ${c.rule} in: ${msg}`).toBe(true);
  });

  it.each(valid.map((c) => [c.title, c] as const))('accepts %s', async (_title, c) => {
    const created = (await create(c.kind, c.spec)) as { spec: Spec };
    expect(created.spec).toEqual(c.spec);
  });
});
