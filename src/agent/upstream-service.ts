/**
 * The upstream of an agent in transparent mode. The agent answers on the kube-dns ClusterIP
 * itself, so forwarding there would loop back to it; its upstream is a second Service
 * (`kube-dns-upstream`) selecting the same kube-dns pods, whose ClusterIP nobody on the node
 * takes over. That IP is only known once the Service exists, so the agent is given the
 * Service's DNS name and resolves it at start through kube-dns (the ClusterIP, reached
 * through kube-proxy, or through the older agent of a hand-over, which forwards it).
 */
import { Resolver } from 'node:dns/promises';
import { isIPv6 } from 'node:net';
import type { HostPort } from './agent.js';

export class UpstreamServiceError extends Error {
  override readonly name = 'UpstreamServiceError';
}

/** Upstreams that are also listen addresses: forwarding to them would ask ourselves. */
export function loopingUpstreams(listen: readonly HostPort[], upstreams: readonly HostPort[]): HostPort[] {
  const key = (h: HostPort): string => `${h.host.toLowerCase()}|${h.port}`;
  const mine = new Set(listen.map(key));
  return upstreams.filter((u) => mine.has(key(u)));
}

export interface ResolveOptions {
  /** The Service's DNS name, e.g. kube-dns-upstream.kube-system.svc.cluster.local. */
  readonly name: string;
  readonly port: number;
  /** Where to ask (the kube-dns ClusterIP). */
  readonly resolver: HostPort;
  /** Give up after this long (the Service may appear a moment after the agent starts). */
  readonly deadlineMs: number;
  /** Each attempt's timeout. */
  readonly attemptMs?: number;
}

/**
 * The Service's addresses as upstreams, in the resolver's family. Retries until the deadline:
 * Helm creates the Service with the DaemonSet, and kube-dns answers NXDOMAIN until it sees it.
 */
export async function resolveUpstreamService(opts: ResolveOptions, onRetry?: (reason: string) => void | Promise<void>): Promise<HostPort[]> {
  const deadline = Date.now() + opts.deadlineMs;
  for (;;) {
    let last: string;
    // A resolver (so a socket, so a source port) per attempt: a conntrack entry the last
    // attempt left without kube-proxy's DNAT (sent before its rules, or to a kube-dns pod since
    // gone) must not catch this one too (see upstreams.ts, retireSocket).
    const r = new Resolver({ timeout: opts.attemptMs ?? 2_000, tries: 1 });
    r.setServers([isIPv6(opts.resolver.host) ? `[${opts.resolver.host}]:${opts.resolver.port}` : `${opts.resolver.host}:${opts.resolver.port}`]);
    try {
      const ips = isIPv6(opts.resolver.host) ? await r.resolve6(opts.name) : await r.resolve4(opts.name);
      if (ips.length > 0) return ips.map((host) => ({ host, port: opts.port }));
      last = 'no addresses';
    } catch (err) {
      last = (err as NodeJS.ErrnoException).code ?? String(err);
    } finally {
      r.cancel();
    }
    if (Date.now() >= deadline) {
      throw new UpstreamServiceError(`${opts.name} did not resolve through ${opts.resolver.host}:${opts.resolver.port} within ${Math.round(opts.deadlineMs / 1000)} s (last: ${last})`);
    }
    await onRetry?.(last);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}
