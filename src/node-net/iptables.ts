/**
 * iptables through its own command, as kube-proxy and NodeLocal DNSCache use it. The
 * backend matters: rules written with iptables-nft are invisible to a node whose
 * kube-proxy uses iptables-legacy and the other way round, so `auto` picks the one that
 * holds kube-proxy's KUBE- chains (what kube-proxy's iptables-wrapper does).
 */
import { describe, type Rule } from './rules.js';
import type { Runner } from './exec.js';

export type Backend = 'nft' | 'legacy' | 'default';

export class IptablesError extends Error {
  override readonly name = 'IptablesError';
}

export function binary(backend: Backend, v6: boolean): string {
  const base = v6 ? 'ip6tables' : 'iptables';
  return backend === 'default' ? base : `${base}-${backend}`;
}

function kubeChains(save: string): number {
  return save.split('\n').filter((l) => /^[:-]\S*\s*KUBE-|^:KUBE-|-j KUBE-/.test(l)).length;
}

/** legacy only when it holds KUBE- rules and nft holds none; nft when nft does; else the image default. */
export function chooseBackend(nftSave: string | undefined, legacySave: string | undefined): Backend {
  const nft = nftSave === undefined ? 0 : kubeChains(nftSave);
  const legacy = legacySave === undefined ? 0 : kubeChains(legacySave);
  if (legacy > 0 && nft === 0) return 'legacy';
  if (nft > 0) return 'nft';
  return 'default';
}

export async function detectBackend(run: Runner): Promise<Backend> {
  const [nft, legacy] = await Promise.all([run('iptables-nft-save', []), run('iptables-legacy-save', [])]);
  return chooseBackend(nft.ok ? nft.stdout : undefined, legacy.ok ? legacy.stdout : undefined);
}

/** `iptables -C` says "does a matching rule exist" / "Bad rule" when the rule is simply not there. */
function isMissing(stderr: string): boolean {
  return /does a matching rule exist|Bad rule|No chain\/target\/match by that name/i.test(stderr);
}

export class Iptables {
  constructor(
    private readonly run: Runner,
    readonly backend: Backend,
  ) {}

  private cmd(r: Rule, op: string[]): Promise<{ ok: boolean; stderr: string }> {
    // -w: wait for the xtables lock kube-proxy also takes, rather than fail at once.
    return this.run(binary(this.backend, r.v6), ['-w', '5', '-t', r.table, ...op, r.chain, ...r.spec]);
  }

  async exists(r: Rule): Promise<boolean> {
    const res = await this.cmd(r, ['-C']);
    if (res.ok) return true;
    if (isMissing(res.stderr)) return false;
    throw new IptablesError(`checking ${describe(r)}: ${res.stderr}`);
  }

  /** Inserted first in the chain, as node-cache does, so no earlier rule can drop the traffic. */
  async insert(r: Rule): Promise<void> {
    const res = await this.run(binary(this.backend, r.v6), ['-w', '5', '-t', r.table, '-I', r.chain, '1', ...r.spec]);
    if (!res.ok) throw new IptablesError(`adding ${describe(r)}: ${res.stderr}`);
  }

  /** Deletes every copy of the rule (several agents may each have added one). */
  async remove(r: Rule): Promise<string | undefined> {
    for (let i = 0; i < 16; i++) {
      const res = await this.cmd(r, ['-D']);
      if (!res.ok) return isMissing(res.stderr) ? undefined : `removing ${describe(r)}: ${res.stderr}`;
    }
    return `removing ${describe(r)}: still present after 16 deletions`;
  }
}
