/**
 * Leadership terms (fencing). Every leader's NOTIFYs carry its term in the signed leader info
 * (leader-info.ts); a term only grows across leaders. An agent keeps the highest term it has
 * accepted and refuses a push from an older one, answering (signed) REFUSED with its own term
 * so the sender learns it was deposed. An agent's NOTIFY answers also carry the term of the
 * leader its data came from, which is how a new leader tells an agent that is ahead of it
 * because an old leader pushed after the takeover (its data loses: the new leader resumes past
 * that serial, so serials stay monotonic) from one that follows a newer leader (the sender is
 * the deposed one: it stops pushing there). A primary never moves its serial past an agent's
 * on any other ground.
 */
import type { Packet } from 'dns-packet';
import { decode, encode, flags } from './codec.js';
import type { RR } from '../dns/rr.js';
import { leaderInfoOf, leaderInfoOption } from './leader-info.js';

/** What a primary does with an agent that acknowledged a serial newer than its own. */
export type AheadVerdict =
  /** The agent's data came from an older term: ours wins; go past its serial. */
  | 'resume'
  /** The agent follows a newer term: we are deposed; stop pushing to it. */
  | 'deposed'
  /** Same term, or no term known: not ours to overrule; leave it and report it lagging. */
  | 'hold';

/**
 * `firstAnswer`: this is the agent's first answer to this leader. A leader's probe of the
 * agents' serials (before its first push) raises its serials past theirs; an agent the probe
 * missed (it timed out under load, the agent was away) is heard from first here, and a later
 * serial of the same term (or none) is then what the probe would have found: go past it.
 * Once a leader has heard from an agent, the same term never overrules it (no leapfrog
 * between two leaders of one term: each would only ever resume once per agent it meets).
 */
export function aheadVerdict(ourTerm: bigint, agentDataTerm: bigint | undefined, firstAnswer = false): AheadVerdict {
  if (agentDataTerm !== undefined && ourTerm !== 0n) {
    if (agentDataTerm < ourTerm) return 'resume';
    if (agentDataTerm > ourTerm) return 'deposed';
  }
  const sameOrNone = agentDataTerm === undefined || agentDataTerm === ourTerm;
  return firstAnswer && sameOrNone ? 'resume' : 'hold';
}

/**
 * The term of a primary with no election (`dnssync primary`): its start time, on the scale of
 * the controller's Lease terms (seconds in the upper 32 bits; milliseconds below). A restarted
 * primary is then a newer term than its previous run, whose data on an agent that got ahead
 * of the restart's first serial (state file lost, agent away during the start-up probe) it
 * overrules by resuming past that serial.
 */
export function startTerm(nowMs: number = Date.now()): bigint {
  return (BigInt(Math.floor(nowMs / 1000)) << 32n) | BigInt(Math.floor(nowMs) % 1000);
}

/** The term a decoded message carries (0 for none, as from a standard primary). */
export function termOf(p: Packet): bigint {
  return leaderInfoOf(p)?.term ?? 0n;
}

/**
 * The term in a (verified, TSIG-stripped) answer, or undefined when it carries none or
 * cannot be read. Decodes the whole message: callers use it only off the hot path (an agent
 * ahead of us, a refusal).
 */
export function answerTerm(msg: Uint8Array): bigint | undefined {
  try {
    return leaderInfoOf(decode(msg))?.term;
  } catch {
    return undefined; // undecodable or malformed leader info: no term to act on
  }
}

/**
 * An answer to a dnssync NOTIFY carrying `term` as leader info (no endpoint) in an OPT record
 * — only for requests that carried leader info themselves, so they had EDNS (RFC 6891 §6.1.1:
 * no OPT in a response to a request without one).
 */
export function termAnswer(req: Packet, opcode: number, rcode: number, answers: readonly RR[], term: bigint): Buffer {
  const opt = { type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options: [leaderInfoOption({ term, transfer: undefined })] };
  return encode({ type: 'response', id: req.id ?? 0, flags: flags({ qr: true, opcode, aa: true, rcode }), questions: req.questions ?? [], answers: [...answers], additionals: [opt as never] });
}
