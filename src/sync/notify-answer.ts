/**
 * What an agent's answer to our NOTIFY means, decided apart from what the primary then does:
 * an acknowledgement (with the serial it holds, and its data's term when that matters), a
 * refusal, fencing by a newer leader, or something to ignore. Pure over the message.
 */
import type { Auth } from './auth.js';
import { RCODE_NAMES } from './agent-links.js';
import { answerSoaSerial, RCODE } from './codec.js';
import { answerTerm } from './fencing.js';
import { serialGt } from './serials.js';

export type AnswerVerdict =
  /** FORMERR to a diff-carrying NOTIFY: the peer (BIND) cannot parse one; send it plain ones. */
  | { readonly kind: 'plain-only' }
  /** Not signed as our request's answer: ignored. */
  | { readonly kind: 'unverified'; readonly error: string }
  /** A signed REFUSED carrying a newer leadership term: we are deposed at that agent. */
  | { readonly kind: 'fenced'; readonly agentTerm: bigint }
  /** A catalog NOTIFY refused: the peer does not follow our catalog. */
  | { readonly kind: 'no-catalog' }
  | { readonly kind: 'refused'; readonly error: string }
  | { readonly kind: 'malformed' }
  /** NOERROR: the serial it now holds (undefined for a standard secondary's bare receipt). */
  | { readonly kind: 'ack'; readonly serial: number | undefined; readonly agentTerm: bigint | undefined };

export interface AnswerContext {
  /** The NOTIFY outstanding carried a diff (and the peer is not yet sent plain ones only). */
  readonly diffOutstanding: boolean;
  readonly catalog: boolean;
  /** Our leadership term. */
  readonly term: bigint;
  /** The zone's current serial at the primary. */
  readonly serial: number | undefined;
  readonly origin: string;
}

export function classifyAnswer(raw: Buffer, rcode: number, mac: Buffer | undefined, auth: Auth, ctx: AnswerContext): AnswerVerdict {
  // Unsigned, as a parser failure is: the worst a forger gains is a pull instead of a push.
  if (rcode === RCODE.FORMERR && ctx.diffOutstanding) return { kind: 'plain-only' };
  let msg: Buffer;
  try {
    msg = auth.response(raw, mac);
  } catch (err) {
    return { kind: 'unverified', error: String(err) };
  }
  if (rcode !== RCODE.NOERROR) {
    const t = rcode === RCODE.REFUSED ? answerTerm(msg) : undefined;
    if (t !== undefined && t > ctx.term) return { kind: 'fenced', agentTerm: t };
    if (ctx.catalog && (rcode === RCODE.REFUSED || rcode === RCODE.NOTAUTH || rcode === RCODE.NOTIMP)) return { kind: 'no-catalog' };
    return { kind: 'refused', error: `answered NOTIFY with ${RCODE_NAMES[rcode] ?? `rcode ${rcode}`}` };
  }
  let serial: number | undefined;
  try {
    serial = answerSoaSerial(msg, ctx.origin);
  } catch {
    return { kind: 'malformed' };
  }
  // The agent's data term matters only when it is ahead of us: decode only then.
  const ahead = serial !== undefined && serialGt(serial, ctx.serial ?? serial);
  return { kind: 'ack', serial, agentTerm: ahead ? answerTerm(msg) : undefined };
}
