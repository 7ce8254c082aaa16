/**
 * The one place the agent encodes a whole message from records. Kept behind this function so
 * the encoder (name compression lives in src/dns/wire.ts) can change without touching callers.
 */
import packet from 'dns-packet';
import type { RR } from '../dns/rr.js';

export interface Question {
  readonly name: string;
  readonly type: string;
  readonly class: 'IN';
}

/** `flags` is the 16-bit header word without QR (set here); ID 0, patched when served. */
export function encodeMessage(flags: number, question: Question, answer: readonly RR[], authority: readonly RR[], additional: readonly RR[]): Buffer {
  return packet.encode({
    type: 'response',
    id: 0,
    flags,
    questions: [question as packet.Question],
    answers: answer as packet.Answer[],
    authorities: authority as packet.Answer[],
    additionals: additional as packet.Answer[],
  });
}
