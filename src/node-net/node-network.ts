/**
 * The agent's own node networking, as NodeLocal DNSCache does it: the listen addresses on
 * an interface (so the agent can bind them and the node delivers to it), NOTRACK/ACCEPT
 * rules for DNS to and from them, a periodic check that puts back whatever someone removed
 * (counted and logged), and removal on a clean exit. An upgrade hand-over skips the
 * removal: the next agent is already answering on the same addresses.
 */
import { networkInterfaces } from 'node:os';
import { counter } from '../observability/metrics.js';
import { logger } from '../observability/logger.js';
import { run as defaultRun, type Runner } from './exec.js';
import { detectBackend, Iptables, type Backend } from './iptables.js';
import { addAddress, ensureLink, linkExists, missingAddresses, removeLink, type Link } from './link.js';
import { describe, dnsRules, type Rule } from './rules.js';

export interface NodeNetworkOptions {
  /** Addresses (and their DNS ports) to make local and exempt from conntrack. */
  readonly listen: readonly { readonly host: string; readonly port: number }[];
  /** Interface to create (dummy) for the addresses; undefined leaves interfaces alone. */
  readonly interface?: string;
  /** Where the addresses go when the kernel has no dummy link type. */
  readonly fallbackInterface: string;
  readonly iptables: boolean;
  readonly iptablesBackend: Backend | 'auto';
  readonly run?: Runner;
}

export type RepairKind = 'interface' | 'address' | 'rule';

const log = (): ReturnType<typeof logger> => logger('node-net');

const repairs = (): ReturnType<typeof counter<'what'>> =>
  counter<'what'>({ name: 'dnssync_agent_node_network_repairs_total', help: 'Pieces of the node networking (interface, address, iptables rule) found missing and put back.', labelNames: ['what'] });
const errors = (): ReturnType<typeof counter<'what'>> =>
  counter<'what'>({ name: 'dnssync_agent_node_network_errors_total', help: 'Failed checks or repairs of the node networking, by what failed.', labelNames: ['what'] });

function hosts(opts: NodeNetworkOptions): string[] {
  return [...new Set(opts.listen.map((l) => l.host))];
}

/**
 * Addresses some other interface already holds (the node IP, when the agent also listens
 * there) are the node's, not ours: never added, never removed, no rules.
 */
export function foreignAddresses(ifaces: ReturnType<typeof networkInterfaces>, ours: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const [name, list] of Object.entries(ifaces)) {
    if (ours.includes(name)) continue;
    for (const i of list ?? []) out.add(i.address);
  }
  return out;
}

export class NodeNetwork {
  private rulesWanted = false;
  private timer: NodeJS.Timeout | undefined;
  /** Adding the rules the first time is not a repair. */
  private firstPass = false;
  private busy: Promise<RepairKind[]> | undefined;

  private constructor(
    private readonly opts: NodeNetworkOptions,
    private readonly run: Runner,
    private link: Link | undefined,
    private readonly iptables: Iptables | undefined,
    private readonly rules: readonly Rule[],
  ) {}

  /** The interface and addresses now (binding needs them); the rules once the agent serves. */
  static async setup(all: NodeNetworkOptions): Promise<NodeNetwork> {
    const run = all.run ?? defaultRun;
    const foreign = foreignAddresses(networkInterfaces(), [all.interface ?? '', all.fallbackInterface]);
    const opts = { ...all, listen: all.listen.filter((l) => !foreign.has(l.host)) };
    const skipped = all.listen.filter((l) => foreign.has(l.host)).map((l) => l.host);
    if (skipped.length > 0) log().info({ addresses: skipped }, 'listen addresses already on another interface: left alone');
    const addresses = hosts(opts);
    let link: Link | undefined;
    if (opts.interface !== undefined) {
      link = await ensureLink(run, opts.interface, opts.fallbackInterface);
      if (link.fellBack) log().warn({ interface: opts.interface, device: link.device }, `no dummy link type in this kernel: the listen addresses go on ${link.device}`);
      for (const a of await missingAddresses(run, link.device, addresses)) await addAddress(run, link.device, a);
      log().info({ device: link.device, addresses }, 'listen addresses on the node');
    }
    let iptables: Iptables | undefined;
    if (opts.iptables) {
      const backend = opts.iptablesBackend === 'auto' ? await detectBackend(run) : opts.iptablesBackend;
      iptables = new Iptables(run, backend);
    }
    repairs();
    errors();
    return new NodeNetwork(opts, run, link, iptables, dnsRules(opts.listen));
  }

  get device(): string | undefined {
    return this.link?.device;
  }

  get iptablesBackend(): Backend | undefined {
    return this.iptables?.backend;
  }

  /**
   * Adds the rules. Called once the agent has bound its sockets: as node-cache reasons,
   * rules that bypass kube-proxy must not exist while nothing answers behind them.
   */
  async installRules(): Promise<void> {
    this.rulesWanted = true;
    this.firstPass = true;
    try {
      await this.check();
    } finally {
      this.firstPass = false;
    }
    log().info({ rules: this.rules.length, backend: this.iptables?.backend }, 'iptables rules in place');
  }

  /** Re-checks (and repairs) every `intervalMs` until teardown or stopChecks. */
  startChecks(intervalMs: number): void {
    this.stopChecks();
    this.timer = setInterval(() => void this.check(), intervalMs);
    this.timer.unref();
  }

  stopChecks(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Checks everything and puts back what is missing; returns what it repaired. */
  check(): Promise<RepairKind[]> {
    // One check at a time: a slow iptables (lock held) must not pile checks up.
    this.busy ??= this.checkOnce().finally(() => {
      this.busy = undefined;
    });
    return this.busy;
  }

  private async checkOnce(): Promise<RepairKind[]> {
    const done: RepairKind[] = [];
    if (this.link !== undefined && this.opts.interface !== undefined) {
      try {
        if (this.link.ours && !(await linkExists(this.run, this.link.device))) {
          this.link = await ensureLink(this.run, this.opts.interface, this.opts.fallbackInterface);
          done.push('interface');
          repairs().inc({ what: 'interface' });
          log().warn({ device: this.link.device }, 'interface was gone: created it again');
        }
        for (const a of await missingAddresses(this.run, this.link.device, hosts(this.opts))) {
          await addAddress(this.run, this.link.device, a);
          done.push('address');
          repairs().inc({ what: 'address' });
          log().warn({ device: this.link.device, address: a }, 'listen address was gone: added it again');
        }
      } catch (err) {
        errors().inc({ what: 'interface' });
        log().error({ err }, 'checking the listen interface failed');
      }
    }
    if (this.iptables !== undefined && this.rulesWanted) {
      for (const r of this.rules) {
        try {
          if (await this.iptables.exists(r)) continue;
          await this.iptables.insert(r);
          if (this.firstPass) continue;
          done.push('rule');
          repairs().inc({ what: 'rule' });
          log().warn({ rule: describe(r) }, 'iptables rule was missing: added it');
        } catch (err) {
          errors().inc({ what: 'iptables' });
          log().error({ err }, 'checking an iptables rule failed');
        }
      }
    }
    return done;
  }

  /** Undefined when every listen address is on some interface; else which is missing (for /healthz). */
  missingAddress(): string | undefined {
    const have = new Set(Object.values(networkInterfaces()).flatMap((l) => (l ?? []).map((i) => i.address)));
    const gone = hosts(this.opts).filter((a) => !have.has(a));
    return gone.length === 0 ? undefined : `listen address not on any interface: ${gone.join(', ')}`;
  }

  /**
   * What a dead agent left behind (SIGKILL skips teardown): rules for these listen
   * addresses, and the addresses on the interface or the fallback. Only called when no
   * other agent serves on this node, so whatever is there is nobody's. Best effort.
   */
  static async removeLeftovers(opts: NodeNetworkOptions): Promise<number> {
    const run = opts.run ?? defaultRun;
    // As in setup: an address another interface holds is the node's, never ours to remove.
    const foreign = foreignAddresses(networkInterfaces(), [opts.interface ?? '', opts.fallbackInterface]);
    const listen = opts.listen.filter((l) => !foreign.has(l.host));
    const addresses = [...new Set(listen.map((l) => l.host))];
    let removed = 0;
    if (opts.iptables) {
      const ipt = new Iptables(run, opts.iptablesBackend === 'auto' ? await detectBackend(run) : opts.iptablesBackend);
      for (const r of dnsRules(listen)) {
        if (!(await ipt.exists(r).catch(() => false))) continue;
        if ((await ipt.remove(r)) === undefined) removed++;
      }
    }
    for (const device of new Set([opts.interface, opts.fallbackInterface])) {
      if (device === undefined || opts.interface === undefined) continue;
      const missing = new Set(await missingAddresses(run, device, addresses));
      const present = addresses.filter((a) => !missing.has(a));
      if (present.length === 0) continue;
      await removeLink(run, { device, ours: false, fellBack: false }, present);
      removed += present.length;
    }
    if (removed > 0) log().warn({ removed, addresses }, 'removed node networking a dead agent left behind');
    return removed;
  }

  /**
   * Gives up some of the addresses (with their rules) while keeping the rest: the newer
   * agent of a hand-over no longer listens there (transparent mode turned off), so leaving
   * them would keep pods' DNS pointed at a socket nobody reads.
   */
  async release(drop: readonly string[]): Promise<void> {
    const gone = new Set(drop);
    const listen = this.opts.listen.filter((l) => gone.has(l.host));
    if (listen.length === 0) return;
    const problems: string[] = [];
    if (this.iptables !== undefined) {
      for (const r of dnsRules(listen)) {
        const p = await this.iptables.remove(r);
        if (p !== undefined) problems.push(p);
      }
    }
    if (this.link !== undefined) problems.push(...(await removeLink(this.run, { ...this.link, ours: false }, [...gone])));
    if (problems.length > 0) log().error({ problems }, 'released addresses only partly removed');
    else log().info({ addresses: [...gone] }, 'addresses the newer agent does not listen on removed');
  }

  /** Removes the rules and the addresses (or our interface). Best effort: logs what stays. */
  async teardown(): Promise<void> {
    this.stopChecks();
    await this.busy;
    this.rulesWanted = false;
    const problems: string[] = [];
    if (this.iptables !== undefined) {
      for (const r of this.rules) {
        const p = await this.iptables.remove(r);
        if (p !== undefined) problems.push(p);
      }
    }
    if (this.link !== undefined) problems.push(...(await removeLink(this.run, this.link, hosts(this.opts))));
    if (problems.length > 0) log().error({ problems }, 'node networking only partly removed');
    else log().info({ device: this.link?.device }, 'node networking removed');
  }
}
