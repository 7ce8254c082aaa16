import { describe, expect, it } from 'vitest';
import { chooseBackend, binary } from './iptables.js';
import { hasAddress, noDummySupport } from './link.js';
import { describe as describeRule, dnsRules } from './rules.js';

describe('dnsRules', () => {
  it('gives NodeLocal DNSCache its ten rules per address: NOTRACK in, out and from host processes, ACCEPT both ways', () => {
    const rules = dnsRules([{ host: '169.254.20.10', port: 53 }]);
    expect(rules).toHaveLength(10);
    expect(rules.map(describeRule)).toContain('raw PREROUTING -d 169.254.20.10/32 -p udp -m udp --dport 53 -j NOTRACK');
    expect(rules.map(describeRule)).toContain('filter OUTPUT -s 169.254.20.10/32 -p tcp -m tcp --sport 53 -j ACCEPT');
    expect(rules.every((r) => !r.v6)).toBe(true);
  });

  it('uses ip6tables and /128 for IPv6, and each address its own port', () => {
    const rules = dnsRules([{ host: 'fd00::10', port: 53 }, { host: '10.96.0.10', port: 5353 }]);
    expect(rules.filter((r) => r.v6)).toHaveLength(10);
    expect(rules.filter((r) => r.v6).every((r) => r.spec.includes('fd00::10/128'))).toBe(true);
    expect(rules.filter((r) => !r.v6).every((r) => r.spec.includes('5353'))).toBe(true);
    expect(binary('legacy', true)).toBe('ip6tables-legacy');
    expect(binary('default', false)).toBe('iptables');
  });
});

describe('interface helpers', () => {
  const out = '1: lo    inet 127.0.0.1/8 scope host lo\n1: lo    inet 169.254.20.10/32 scope global lo\n1: lo    inet6 ::1/128 scope host';
  it('finds an address only as a whole word', () => {
    expect(hasAddress(out, '169.254.20.10')).toBe(true);
    expect(hasAddress(out, '169.254.20.1')).toBe(false);
    expect(hasAddress(out, '::1')).toBe(true);
  });
  it('recognises a kernel without the dummy link type', () => {
    expect(noDummySupport('Error: Unknown device type.')).toBe(true);
    expect(noDummySupport('RTNETLINK answers: Operation not permitted')).toBe(false);
  });
});

describe('chooseBackend', () => {
  it("follows kube-proxy's chains", () => {
    expect(chooseBackend('*nat\n:KUBE-SERVICES - [0:0]\n', '')).toBe('nft');
    expect(chooseBackend('', '*nat\n:KUBE-SERVICES - [0:0]\n-A PREROUTING -j KUBE-SERVICES\n')).toBe('legacy');
    expect(chooseBackend(undefined, undefined)).toBe('default');
  });
});
