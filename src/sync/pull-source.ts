/**
 * Where an agent pulls a zone from after a NOTIFY: the transfer endpoint named in the NOTIFY's
 * signed leader info, else (a standard primary names none) the packet's source address.
 * Source addresses are not to be trusted for this where pod traffic is masqueraded: the
 * source is then a node, not the controller, and nothing there answers a transfer.
 */
import type { Packet } from 'dns-packet';
import type { Endpoint } from './client.js';
import { LeaderInfoError, leaderInfoOf, type LeaderInfo } from './leader-info.js';

export interface PullSource {
  readonly endpoint: Endpoint;
  /** The leader info the NOTIFY carried, if any (its term is for the fencing check). */
  readonly info: LeaderInfo | undefined;
}

/** The pull source of a verified NOTIFY, or the LeaderInfoError that makes it malformed. */
export function pullSource(p: Packet, from: Endpoint): PullSource | LeaderInfoError {
  let info: LeaderInfo | undefined;
  try {
    info = leaderInfoOf(p);
  } catch (err) {
    if (err instanceof LeaderInfoError) return err;
    throw err;
  }
  return { endpoint: info?.transfer ?? from, info };
}
