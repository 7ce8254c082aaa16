import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import type { TsigKey } from '../dns/tsig.js';
import { logger } from '../observability/logger.js';
import { buildSnapshot } from '../zone/snapshot.js';
import { waitFor } from '../../test/util/wait.js';
import { Auth } from './auth.js';
import { decode, OPCODE_NOTIFY, RCODE, responseTo } from './codec.js';
import { Delivery } from './delivery.js';
import { Journal } from './journal.js';
import { NotifyBuilder } from './notify-builder.js';
import { makeSoa } from './serial-policy.js';
import type { ServedZone } from './served-zone.js';

const O = 'dl.test';
const KEY: TsigKey = { name: 'dl-key', algorithm: 'hmac-sha256', secret: Buffer.from('delivery-unit-test-secret-32-byt') };
const sockets: Socket[] = [];
const closers: (() => void)[] = [];
afterEach(() => {
  for (const c of closers.splice(0)) c();
  for (const s of sockets.splice(0)) s.close();
});

async function bound(): Promise<Socket> {
  const s = createSocket('udp4');
  sockets.push(s);
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  return s;
}

/** A stand-in agent: answers every NOTIFY after the first `drop` with the SOA it announces. */
async function fakeAgent(drop: number): Promise<{ port: number; notifies: number }> {
  const sock = await bound();
  const auth = new Auth([KEY], 'secondary');
  const state = { port: sock.address().port, notifies: 0 };
  sock.on('message', (raw, rinfo) => {
    state.notifies++;
    if (state.notifies <= drop) return;
    const ok = auth.check(raw, false);
    if (!ok.ok) return;
    const p = decode(ok.message);
    const soa = p.answers?.find((r) => r.type === 'SOA');
    const body = responseTo(p, OPCODE_NOTIFY, RCODE.NOERROR, soa ? [makeSoa(O, (soa.data as { serial: number }).serial, {})] : []);
    sock.send(auth.answer(body, ok), rinfo.port, rinfo.address);
  });
  return state;
}

describe('delivery', () => {
  it('a NOTIFY that gets no answer is retried; the ACK settles the agent and is reported once', async () => {
    const udp = await bound();
    const auth = new Auth([KEY], 'primary');
    const zones = new Map<string, ServedZone>([[O, { snapshot: buildSnapshot(O, [makeSoa(O, 9, {})]), journal: new Journal(), params: {}, notifies: new Map(), transfers: new Map() }]]);
    const acks: number[] = [];
    const d = new Delivery(
      { zones, resumePast: () => undefined, raiseSerialFloor: () => undefined },
      { ack: (_a, _o, s) => acks.push(s), deposed: () => undefined, drift: () => undefined },
      { udp, auth, builder: new NotifyBuilder(auth, undefined, 1232), info: undefined, term: 0n, log: logger('test'), retryInitialMs: 50, retryMaxMs: 200, window: { maxInFlight: 8 }, heartbeat: false, catalog: false, streams: undefined },
    );
    closers.push(() => d.close());
    udp.on('message', (raw, rinfo) => d.onResponse(raw, raw.readUInt16BE(0), (raw[2] as number >> 3) & 0xf, (raw[3] as number) & 0xf, rinfo.address));
    const agent = await fakeAgent(1);
    d.setAgents([{ id: 'a1', host: '127.0.0.1', port: agent.port }]);
    await waitFor(() => d.agentStates()[0]?.zones[0]?.inSync, { what: 'the agent in sync', timeoutMs: 5_000 });
    expect(agent.notifies).toBe(2);
    expect(acks).toEqual([9]);
    expect(d.fanout.inFlight).toBe(0);
  });
});
