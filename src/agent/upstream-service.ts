/**
 * The upstream of an agent in transparent mode. The agent answers on the kube-dns ClusterIP
 * itself, so forwarding there would loop back to it; its upstream is a second Service
 * (`kube-dns-upstream`) selecting the same kube-dns pods, whose ClusterIP nobody on the node
 * takes over. That IP is only known once the Service exists, so the agent is given the
 * Service's DNS name and resolves it at start through kube-dns (the ClusterIP, reached
 * through kube-proxy, or through the older agent of a hand-over, which forwards it).
 */
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { isIPv6 } from 'node:net';
import type { HostPort } from './agent.js';
import { encodeMessage } from '../dns/wire.js';

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
  /**
   * Keep only addresses that answer a DNS query (any answer) within attemptMs, and retry
   * while none does. kube-dns may hand out a deleted Service's ClusterIP from its cache (the
   * chart uninstalled and installed again within kube-dns's cache TTL gives the new
   * kube-dns-upstream a new ClusterIP), and an agent that took it would forward into the void
   * for as long as it runs.
   */
  readonly probe?: boolean;
}

/** Does a DNS server answer at `to` within `timeoutMs` (any response to any question)? */
export function answers(to: HostPort, name: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = dgram.createSocket(isIPv6(to.host) ? 'udp6' : 'udp4');
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      s.close();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    const id = randomInt(0, 65536);
    s.on('message', (msg) => {
      if (msg.length >= 12 && msg.readUInt16BE(0) === id) done(true);
    });
    s.on('error', () => done(false));
    s.send(encodeMessage({ type: 'query', id, flags: 0x0100, questions: [{ name, type: 'A', class: 'IN' }] }), to.port, to.host);
  });
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
      const found = ips.map((host) => ({ host, port: opts.port }));
      const live = opts.probe === true ? await liveOnly(found, opts.name, opts.attemptMs ?? 2_000) : found;
      if (live.length > 0) return live;
      last = found.length === 0 ? 'no addresses' : `resolved to ${found.map((u) => `${u.host}:${u.port}`).join(', ')}, which did not answer`;
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

async function liveOnly(found: readonly HostPort[], name: string, timeoutMs: number): Promise<HostPort[]> {
  const ok = await Promise.all(found.map((u) => answers(u, name, timeoutMs)));
  return found.filter((_, i) => ok[i]);
}
