/**
 * A NOTIFY whose diff starts at a serial the agent is already past — a retry that crossed the
 * agent's ACK of the same change, or a later diff sent before the primary heard that ACK —
 * is answered with the serial the agent holds, not with a pull: the primary then sends the
 * rest from there. At thousands of agents a busy primary's retries cross ACKs all the time,
 * and each needless pull is a TCP transfer.
 */
import { createSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { Auth } from '../../src/sync/auth.js';
import { answerSoaSerial, notifyMessage, withSerial } from '../../src/sync/codec.js';
import { Primary } from '../../src/sync/primary.js';
import { Secondary } from '../../src/sync/secondary.js';
import { ZoneStore } from '../../src/zone/store.js';
import { counterValue } from './metric-values.js';
import { waitFor } from '../util/wait.js';
import { KEY, a, hosts, sameZone } from './helpers.js';

const ORIGIN = 'past-base.test';
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length) await (closers.pop() as () => Promise<void>)();
});

/** Sends `msg` signed to `to` from a socket of our own and returns the verified answer. */
async function ask(to: { host: string; port: number }, msg: Buffer): Promise<Buffer> {
  const auth = new Auth([KEY], 'primary');
  const req = auth.request(msg);
  const sock = createSocket('udp4');
  closers.push(async () => {
    sock.close();
  });
  const answer = new Promise<Buffer>((resolve) => sock.once('message', resolve));
  sock.send(req.wire, to.port, to.host);
  return auth.response(await answer, req.mac);
}

/** Pulls so far in this process: transfers the primary served, and pulls that failed. */
async function pulls(): Promise<number> {
  const served = (await counterValue('dnssync_sync_transfers_served_total')) - (await counterValue('dnssync_sync_transfers_served_total', { type: 'soa' }));
  return served + (await counterValue('dnssync_sync_pull_failures_total'));
}

describe('a NOTIFY diff from a base the agent is past', () => {
  it('is answered with the agent serial and starts no pull', async () => {
    let now = 1_800_000_000;
    const primary = await Primary.start({ host: '127.0.31.1', port: 0, keys: [KEY], clock: () => now });
    closers.push(() => primary.close());
    const store = new ZoneStore();
    const sec = await Secondary.start({ store, host: '127.0.31.10', port: 0, keys: [KEY], notifyAnswerWaitMs: 3000 });
    closers.push(() => sec.close());
    primary.setAgents([{ id: 'a0', host: sec.address.host, port: sec.address.port }]);
    const s1 = primary.setZone(ORIGIN, hosts(ORIGIN, 5));
    await waitFor(() => sameZone(store.get(ORIGIN), primary.zone(ORIGIN)), { what: 'cold sync' });
    now++;
    const s2 = primary.setZone(ORIGIN, [...hosts(ORIGIN, 5), a(`x.${ORIGIN}`, '192.0.2.2')]);
    await waitFor(() => store.get(ORIGIN)?.serial === s2, { what: `agent at ${s2}` });

    // The diff s1 → s3, as a retry from before the primary heard the ACK of s2 would carry.
    const soa = primary.zone(ORIGIN)?.soa;
    if (!soa) throw new Error('no SOA');
    const s3 = s2 + 1;
    const soa3 = withSerial(soa, s3);
    const stale = notifyMessage(4242, soa3, { origin: ORIGIN, fromSerial: s1, toSerial: s3, soa: soa3, deleted: [], added: [a(`x.${ORIGIN}`, '192.0.2.2'), a(`y.${ORIGIN}`, '192.0.2.3')] });
    const pullsBefore = await pulls();
    const t0 = performance.now();
    const answer = await ask(sec.address, stale);
    expect(answerSoaSerial(answer, ORIGIN)).toBe(s2);
    // Answered at once: a pull would have held the answer until it ended (the primary is at
    // s2, so it would end quickly, but it would be a transfer all the same).
    expect(performance.now() - t0).toBeLessThan(1000);
    // A pull would go to the primary (served, as up to date) or, if the agent followed this
    // NOTIFY's sender, to this test's socket, which serves no TCP (a failure).
    expect(await pulls()).toBe(pullsBefore);
    expect(sec.zoneStates()[0]?.serial).toBe(s2);
  });
});
