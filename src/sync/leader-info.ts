/**
 * "Leader info": what a dnssync primary says about itself inside every NOTIFY, as an EDNS(0)
 * option (RFC 6891) in the OPT record, so the TSIG that covers the whole message covers it
 * too. It carries the leadership term and the transfer endpoint agents must pull from: a
 * packet's source address is no guide where pod traffic is masqueraded (the agent would pull
 * from a node, not the controller).
 *
 * Option data, network byte order:
 *
 *     version (1) = 1 | family (1): 0 none, 1 IPv4, 2 IPv6 | port (2) | term (8) | address (0/4/16)
 *
 * Term 0 means "no term". A family 0 option carries a term but no endpoint (the receiver falls
 * back to the source address, as for a standard primary). Unknown versions are refused, not
 * guessed at: a newer peer that changes the layout must bump it.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { addressBytes, addressText, type HostPort as Endpoint } from '../dns/address.js';
import type { Packet } from 'dns-packet';

/** From the local/experimental EDNS option range (RFC 6891 §9: 65001–65534). */
export const LEADER_INFO_OPTION = 65_401;
const VERSION = 1;
const FAMILY_NONE = 0;
const FAMILY_V4 = 1;
const FAMILY_V6 = 2;
const FIXED = 12;
const MAX_TERM = 2n ** 64n - 1n;

export interface LeaderInfo {
  /** Leadership term, unsigned 64-bit; 0 = none. */
  readonly term: bigint;
  /** Where to pull IXFR/AXFR from; undefined = the NOTIFY's source address. */
  readonly transfer: Endpoint | undefined;
}

export class LeaderInfoError extends Error {
  override readonly name = 'LeaderInfoError';
}

export function encodeLeaderInfo(info: LeaderInfo): Buffer {
  if (info.term < 0n || info.term > MAX_TERM) throw new LeaderInfoError(`term ${info.term} is not an unsigned 64-bit number`);
  const t = info.transfer;
  let family = FAMILY_NONE;
  let addr: Buffer = Buffer.alloc(0);
  if (t) {
    if (!Number.isInteger(t.port) || t.port < 1 || t.port > 65535) throw new LeaderInfoError(`transfer port ${t.port} is not in 1..65535`);
    if (isIPv4(t.host)) {
      family = FAMILY_V4;
      addr = addressBytes(t.host);
    } else if (isIPv6(t.host)) {
      family = FAMILY_V6;
      addr = addressBytes(t.host);
    } else throw new LeaderInfoError(`transfer host '${t.host}' is not an IP address`);
  }
  const out = Buffer.alloc(FIXED + addr.length);
  out.writeUInt8(VERSION, 0);
  out.writeUInt8(family, 1);
  out.writeUInt16BE(t?.port ?? 0, 2);
  out.writeBigUInt64BE(info.term, 4);
  addr.copy(out, FIXED);
  return out;
}

export function decodeLeaderInfo(data: Uint8Array): LeaderInfo {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (b.length < FIXED) throw new LeaderInfoError(`leader info is ${b.length} octets, shorter than ${FIXED}`);
  const version = b.readUInt8(0);
  if (version !== VERSION) throw new LeaderInfoError(`leader info version ${version} is not ${VERSION}`);
  const family = b.readUInt8(1);
  const port = b.readUInt16BE(2);
  const term = b.readBigUInt64BE(4);
  const want = family === FAMILY_NONE ? 0 : family === FAMILY_V4 ? 4 : family === FAMILY_V6 ? 16 : -1;
  if (want < 0) throw new LeaderInfoError(`leader info address family ${family} is unknown`);
  if (b.length !== FIXED + want) throw new LeaderInfoError(`leader info for family ${family} must be ${FIXED + want} octets, is ${b.length}`);
  if (family === FAMILY_NONE) return { term, transfer: undefined };
  if (port === 0) throw new LeaderInfoError('leader info transfer port is 0');
  const a = b.subarray(FIXED);
  const host = addressText(a);
  return { term, transfer: { host, port } };
}

/** The EDNS option to put in an OPT record's `options`. */
export function leaderInfoOption(info: LeaderInfo): { code: number; data: Buffer } {
  return { code: LEADER_INFO_OPTION, data: encodeLeaderInfo(info) };
}

/**
 * The leader info a decoded message carries: undefined when there is none (a standard
 * primary); throws LeaderInfoError when there is one that is malformed, or more than one.
 */
export function leaderInfoOf(p: Packet): LeaderInfo | undefined {
  const found: LeaderInfo[] = [];
  for (const r of p.additionals ?? []) {
    if (r.type !== 'OPT') continue;
    for (const o of (r as { options?: Array<{ code: number | string; data?: Buffer }> }).options ?? []) {
      if (o.code !== LEADER_INFO_OPTION) continue;
      found.push(decodeLeaderInfo(o.data ?? Buffer.alloc(0)));
    }
  }
  if (found.length > 1) throw new LeaderInfoError(`${found.length} leader info options in one message`);
  return found[0];
}
