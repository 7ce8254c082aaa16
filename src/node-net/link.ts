/**
 * The interface that holds the listen addresses. As NodeLocal DNSCache does: a dummy
 * interface of our own (nothing routes through it; it only makes the addresses local).
 * Kernels without the dummy link type ("Unknown device type") get the addresses on a
 * fallback interface instead, `lo` by default: equally local, but shared, so on teardown
 * only our addresses are removed from it, never the interface.
 */
import { isIPv6 } from 'node:net';
import type { Runner } from './exec.js';

export interface Link {
  /** The interface holding the addresses. */
  readonly device: string;
  /** We created it (a dummy): teardown deletes it; otherwise teardown removes addresses only. */
  readonly ours: boolean;
  /** The dummy type was missing and the addresses went on the fallback interface. */
  readonly fellBack: boolean;
}

export class LinkError extends Error {
  override readonly name = 'LinkError';
}

function prefix(addr: string): string {
  return isIPv6(addr) ? `${addr}/128` : `${addr}/32`;
}

/** The kernel (or the container runtime's seccomp/netns) cannot make dummy links. */
export function noDummySupport(stderr: string): boolean {
  return /Unknown device type|Operation not supported|not supported/i.test(stderr);
}

/** `ip -o addr show` output holds `addr` as an address (not just as a prefix of another). */
export function hasAddress(ipAddrOutput: string, addr: string): boolean {
  const want = prefix(addr).toLowerCase();
  return ipAddrOutput
    .split('\n')
    .some((line) => line.split(/\s+/).some((word, i, words) => (words[i - 1] === 'inet' || words[i - 1] === 'inet6') && word.toLowerCase() === want));
}

export async function linkExists(run: Runner, name: string): Promise<boolean> {
  return (await run('ip', ['link', 'show', 'dev', name])).ok;
}

/**
 * Finds or creates `name`; falls back to `fallback` when dummy links are unsupported. An
 * existing interface of that name is used as it is (a previous agent's, left by a hand-over
 * or a crash) and counts as ours.
 */
export async function ensureLink(run: Runner, name: string, fallback: string): Promise<Link> {
  if (await linkExists(run, name)) return up(run, { device: name, ours: true, fellBack: false });
  const add = await run('ip', ['link', 'add', name, 'type', 'dummy']);
  if (add.ok) return up(run, { device: name, ours: true, fellBack: false });
  if (!noDummySupport(add.stderr)) throw new LinkError(`ip link add ${name} type dummy: ${add.stderr}`);
  if (!(await linkExists(run, fallback))) throw new LinkError(`no dummy link type (${add.stderr}) and no fallback interface ${fallback}`);
  return up(run, { device: fallback, ours: false, fellBack: true });
}

async function up(run: Runner, link: Link): Promise<Link> {
  const r = await run('ip', ['link', 'set', 'dev', link.device, 'up']);
  if (!r.ok) throw new LinkError(`ip link set dev ${link.device} up: ${r.stderr}`);
  return link;
}

/** Which of `addresses` the device lacks (all of them when the device is gone). */
export async function missingAddresses(run: Runner, device: string, addresses: readonly string[]): Promise<string[]> {
  const r = await run('ip', ['-o', 'addr', 'show', 'dev', device]);
  if (!r.ok) return [...addresses];
  return addresses.filter((a) => !hasAddress(r.stdout, a));
}

export async function addAddress(run: Runner, device: string, addr: string): Promise<void> {
  // `replace` is idempotent: no "File exists" when another agent put it there first.
  const r = await run('ip', ['addr', 'replace', prefix(addr), 'dev', device]);
  if (!r.ok) throw new LinkError(`ip addr replace ${prefix(addr)} dev ${device}: ${r.stderr}`);
}

/** Deletes our dummy interface, or only our addresses from a shared one. Best effort. */
export async function removeLink(run: Runner, link: Link, addresses: readonly string[]): Promise<string[]> {
  const errors: string[] = [];
  if (link.ours) {
    const r = await run('ip', ['link', 'del', link.device]);
    if (!r.ok && (await linkExists(run, link.device))) errors.push(`ip link del ${link.device}: ${r.stderr}`);
    return errors;
  }
  for (const a of addresses) {
    const r = await run('ip', ['addr', 'del', prefix(a), 'dev', link.device]);
    if (!r.ok && !/Cannot assign|not found|No such/i.test(r.stderr)) errors.push(`ip addr del ${prefix(a)} dev ${link.device}: ${r.stderr}`);
  }
  return errors;
}
