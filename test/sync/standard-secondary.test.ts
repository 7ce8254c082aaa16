/**
 * The primary against a model of a standard secondary (RFC 1996, as BIND and Knot behave):
 * it answers a NOTIFY with NOERROR and no SOA, reads only the serial the NOTIFY announces,
 * ignores one that is not newer than what it holds, and otherwise transfers the primary's
 * current zone. Its SOA answers report what it holds.
 *
 * The case: the secondary already holds serial S1 (a diff NOTIFY just brought it there) but
 * the primary has not yet learned so (its SOA probe comes later) when a change too big for one
 * datagram makes S2. The primary must still announce S2: a NOTIFY announcing S1 — a 'leg' of
 * the way from the last serial it knows — is ignored, and the secondary would stay at S1.
 * Seen with Knot 3.2 in test/sync/knot.test.ts when the change came at the wrong moment.
 */
import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { Primary } from '../../src/sync/primary.js';
import { decode, readHeader, responseTo, sectionRRs, soaSerial } from '../../src/sync/codec.js';
import type { RR } from '../../src/dns/rr.js';
import { waitFor } from '../util/wait.js';
import { a, hosts } from './helpers.js';

const ORIGIN = 'standard.test';
const P_HOST = '127.0.160.30';
const S_HOST = '127.0.160.31';
const OPCODE_NOTIFY = 4;

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (closers.length) await (closers.pop() as () => Promise<void> | void)();
});

interface Model {
  readonly port: number;
  /** Serial held; set to the primary's current one on a NOTIFY announcing a newer serial. */
  held: number | undefined;
  /** Serials announced by the NOTIFYs received, in order. */
  readonly announced: number[];
  /** Called on each NOTIFY before it is answered. */
  onNotify: (serial: number) => void;
}

async function standardSecondary(primary: Primary): Promise<Model> {
  const sock: Socket = createSocket('udp4');
  const model: Model = { port: 0, held: undefined, announced: [], onNotify: () => undefined };
  sock.on('message', (raw, rinfo) => {
    const h = readHeader(raw);
    if (h.qr) return;
    const p = decode(raw);
    if (h.opcode === OPCODE_NOTIFY) {
      const serial = soaSerial(sectionRRs(p.answers).find((rr) => rr.type === 'SOA'));
      if (serial === undefined) return;
      model.announced.push(serial);
      // A transfer brings the secondary to whatever the primary serves now.
      if (model.held === undefined || serial > model.held) model.held = primary.zone(ORIGIN)?.serial;
      model.onNotify(serial);
      sock.send(responseTo(p, OPCODE_NOTIFY, 0), rinfo.port, rinfo.address);
      return;
    }
    const soa = primary.zone(ORIGIN)?.soa;
    const answers: RR[] = soa && model.held !== undefined ? [{ ...soa, data: { ...(soa.data as object), serial: model.held } } as RR] : [];
    sock.send(responseTo(p, 0, 0, answers), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => sock.bind(0, S_HOST, () => resolve()));
  closers.push(() => new Promise<void>((resolve) => sock.close(() => resolve())));
  return Object.assign(model, { port: sock.address().port });
}

describe('primary → standard secondary', () => {
  it('a big change arriving before the primary learns the last one landed is still announced', async () => {
    let now = 1_800_000_000;
    const primary = await Primary.start({ host: P_HOST, port: 0, retry: { initialMs: 50, maxMs: 400 }, clock: () => now });
    closers.push(() => primary.close());
    const s0 = primary.setZone(ORIGIN, hosts(ORIGIN, 10));
    const sec = await standardSecondary(primary);
    primary.setAgents([{ id: 'std', host: S_HOST, port: sec.port }]);
    await waitFor(() => primary.agentStates()[0]?.zones[0]?.inSync, { what: 'secondary in sync at S0' });
    expect(sec.held).toBe(s0);

    let s2: number | undefined;
    sec.onNotify = (serial) => {
      if (s2 !== undefined || serial === s0) return;
      // The secondary now holds S1; the primary does not know yet.
      now++;
      s2 = primary.setZone(ORIGIN, [...hosts(ORIGIN, 10), a(`small.${ORIGIN}`, '192.0.2.1'), ...hosts(`bulk.${ORIGIN}`, 600)]);
    };
    now++;
    const s1 = primary.setZone(ORIGIN, [...hosts(ORIGIN, 10), a(`small.${ORIGIN}`, '192.0.2.1')]);
    await waitFor(
      () => {
        if (s2 !== undefined && sec.held === s2) return true;
        throw new Error(`S2=${s2}, secondary holds ${sec.held}; NOTIFYs announced ${sec.announced.join(', ')}`);
      },
      { what: 'the secondary at S2', timeoutMs: 5_000 },
    );
    expect(sec.announced).toContain(s1);
    expect(sec.announced[sec.announced.length - 1]).toBe(s2);
    await waitFor(() => primary.agentStates()[0]?.zones[0]?.inSync, { what: 'primary seeing the secondary at S2' });
  });
});
