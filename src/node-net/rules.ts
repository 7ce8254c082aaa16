/**
 * The iptables rules NodeLocal DNSCache installs, for our listen addresses: NOTRACK in the
 * raw table so DNS to (and from) the node-local address skips conntrack — no conntrack
 * entry per query, no table-full drops under load, and, for the kube-dns ClusterIP in
 * transparent mode, no DNAT by kube-proxy — and ACCEPT in the filter table, because a
 * host firewall that only accepts tracked (ESTABLISHED) traffic would drop untracked
 * packets. Pure: addresses in, rules out.
 */
import { isIPv6 } from 'node:net';

export type Table = 'raw' | 'filter';
export type Chain = 'PREROUTING' | 'OUTPUT' | 'INPUT';

export interface Rule {
  readonly table: Table;
  readonly chain: Chain;
  /** The rule spec after the chain name, exactly as iptables -C/-I/-D take it. */
  readonly spec: readonly string[];
  /** ip6tables for IPv6 addresses. */
  readonly v6: boolean;
}

/** Marks our rules, so a person reading iptables-save knows whose they are. */
export const COMMENT = 'dnssync node-local DNS';

/**
 * For each address and both protocols: queries in (PREROUTING from pods, OUTPUT from
 * host-network processes) and answers out skip conntrack and are accepted.
 */
export function dnsRules(listen: readonly { readonly host: string; readonly port: number }[]): Rule[] {
  const out: Rule[] = [];
  for (const { host: addr, port } of listen) {
    const p = String(port);
    const v6 = isIPv6(addr);
    const host = v6 ? `${addr}/128` : `${addr}/32`;
    for (const proto of ['udp', 'tcp'] as const) {
      const to = ['-d', host, '-p', proto, '-m', proto, '--dport', p];
      const from = ['-s', host, '-p', proto, '-m', proto, '--sport', p];
      const tag = ['-m', 'comment', '--comment', COMMENT];
      out.push(
        { table: 'raw', chain: 'PREROUTING', spec: [...to, ...tag, '-j', 'NOTRACK'], v6 },
        { table: 'raw', chain: 'OUTPUT', spec: [...to, ...tag, '-j', 'NOTRACK'], v6 },
        { table: 'raw', chain: 'OUTPUT', spec: [...from, ...tag, '-j', 'NOTRACK'], v6 },
        { table: 'filter', chain: 'INPUT', spec: [...to, ...tag, '-j', 'ACCEPT'], v6 },
        { table: 'filter', chain: 'OUTPUT', spec: [...from, ...tag, '-j', 'ACCEPT'], v6 },
      );
    }
  }
  return out;
}

/** How a rule reads in logs: `raw PREROUTING -d 169.254.20.10/32 -p udp ... -j NOTRACK`. */
export function describe(r: Rule): string {
  const spec = r.spec.join(' ').replace(` -m comment --comment ${COMMENT}`, '');
  return `${r.v6 ? 'ip6 ' : ''}${r.table} ${r.chain} ${spec}`;
}
