import { describe, expect, it } from 'vitest';
import type { TsigKey } from '../dns/tsig.js';
import { Auth } from './auth.js';
import { decode, notifyMessage, OPCODE_NOTIFY, RCODE, responseTo } from './codec.js';
import { termAnswer } from './fencing.js';
import { classifyAnswer, type AnswerContext } from './notify-answer.js';
import { makeSoa } from './serial-policy.js';

const O = 'na.test';
const KEY: TsigKey = { name: 'na-key', algorithm: 'hmac-sha256', secret: Buffer.from('notify-answer-test-secret-32-byt') };
const primary = new Auth([KEY], 'primary');
const agent = new Auth([KEY], 'secondary');
const ctx: AnswerContext = { diffOutstanding: true, catalog: false, term: 5n, serial: 200, origin: O };

let nextId = 1;

/** Our signed NOTIFY, and the agent's signed answer to it built by `body`. */
function exchange(body: (req: ReturnType<typeof decode>) => Buffer): { raw: Buffer; mac: Buffer | undefined } {
  const req = primary.request(notifyMessage(nextId++, makeSoa(O, 200, {})));
  const ok = agent.check(req.wire, false);
  if (!ok.ok) throw new Error(ok.reason);
  return { raw: agent.answer(body(decode(ok.message)), ok), mac: req.mac };
}

describe('NOTIFY answers', () => {
  it('NOERROR with the SOA: an ACK of that serial; the term is read only when the agent is ahead', () => {
    const behind = exchange((p) => termAnswer(p, OPCODE_NOTIFY, RCODE.NOERROR, [makeSoa(O, 150, {})], 9n));
    expect(classifyAnswer(behind.raw, RCODE.NOERROR, behind.mac, primary, ctx)).toEqual({ kind: 'ack', serial: 150, agentTerm: undefined });
    const ahead = exchange((p) => termAnswer(p, OPCODE_NOTIFY, RCODE.NOERROR, [makeSoa(O, 250, {})], 9n));
    expect(classifyAnswer(ahead.raw, RCODE.NOERROR, ahead.mac, primary, ctx)).toEqual({ kind: 'ack', serial: 250, agentTerm: 9n });
  });

  it('a signed REFUSED with a newer term fences; with none it is a refusal (or no catalog)', () => {
    const fenced = exchange((p) => termAnswer(p, OPCODE_NOTIFY, RCODE.REFUSED, [], 6n));
    expect(classifyAnswer(fenced.raw, RCODE.REFUSED, fenced.mac, primary, ctx)).toEqual({ kind: 'fenced', agentTerm: 6n });
    const plain = exchange((p) => responseTo(p, OPCODE_NOTIFY, RCODE.REFUSED));
    expect(classifyAnswer(plain.raw, RCODE.REFUSED, plain.mac, primary, ctx)).toEqual({ kind: 'refused', error: 'answered NOTIFY with REFUSED' });
    expect(classifyAnswer(plain.raw, RCODE.REFUSED, plain.mac, primary, { ...ctx, catalog: true })).toEqual({ kind: 'no-catalog' });
  });

  it('an answer not signed for our request changes nothing; FORMERR to a diff means plain NOTIFYs', () => {
    const forged = exchange((p) => responseTo(p, OPCODE_NOTIFY, RCODE.NOERROR, [makeSoa(O, 200, {})]));
    const unsigned = Buffer.from(forged.raw.subarray(0, forged.raw.length));
    unsigned.writeUInt8((unsigned.at(-1) ?? 0) ^ 0xff, unsigned.length - 1);
    expect(classifyAnswer(unsigned, RCODE.NOERROR, forged.mac, primary, ctx).kind).toBe('unverified');
    expect(classifyAnswer(unsigned, RCODE.FORMERR, forged.mac, primary, ctx).kind).toBe('plain-only');
    expect(classifyAnswer(unsigned, RCODE.FORMERR, forged.mac, primary, { ...ctx, diffOutstanding: false }).kind).toBe('unverified');
  });
});
