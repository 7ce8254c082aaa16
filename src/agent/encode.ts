/**
 * The one place the agent encodes a whole message from records (src/dns/wire.ts does the
 * work, with name compression: answer owners compress to the question name, so patching
 * the question's bytes echoes the client's case in them too).
 */
import type { RR } from '../dns/rr.js';
import { encodeMessage as encodeWire } from '../dns/wire.js';

export interface Question {
  readonly name: string;
  readonly type: string;
  readonly class: 'IN';
}

/** `flags` is the 16-bit header word without QR (set here); ID 0, patched when served. */
export function encodeMessage(flags: number, question: Question, answer: readonly RR[], authority: readonly RR[], additional: readonly RR[]): Buffer {
  return encodeWire({
    type: 'response',
    id: 0,
    flags,
    rcode: flags & 0x0f,
    questions: [question],
    answers: answer,
    authorities: authority,
    additionals: additional,
  });
}
