import { describe, expect, it } from 'vitest';
import { canonicalRR } from '../dns/rdata.js';
import type { TsigKey } from '../dns/tsig.js';
import { logger } from '../observability/logger.js';
import { buildSnapshot } from '../zone/snapshot.js';
import { Auth } from './auth.js';
import { decode, RCODE, readHeader, soaQuery, soaSerial, sectionRRs, transferQuery } from './codec.js';
import { Journal } from './journal.js';
import { makeSoa } from './serial-policy.js';
import type { ServedZone } from './served-zone.js';
import { TransferServer } from './transfer-server.js';

const O = 'ts.test';
const KEY: TsigKey = { name: 'ts-key', algorithm: 'hmac-sha256', secret: Buffer.from('transfer-server-test-secret-32-b') };
const auth = new Auth([KEY], 'primary');
const client = new Auth([KEY], 'secondary');
const zone: ServedZone = {
  snapshot: buildSnapshot(O, [makeSoa(O, 42, {}), canonicalRR({ name: `www.${O}`, type: 'A', ttl: 60, data: '192.0.2.1' })]),
  journal: new Journal(),
  params: {},
  notifies: new Map(),
  transfers: new Map(),
};

function server(loaded: boolean): TransferServer {
  return new TransferServer({ zone: (o) => (o === O ? zone : undefined), zonesLoaded: loaded }, auth, logger('test'));
}

/** Sends `q` signed and returns the verified answers. */
function ask(s: TransferServer, q: Buffer, tcp: boolean): Buffer[] {
  const req = client.request(q);
  const out = s.answer(req.wire, tcp);
  if (out.length <= 1) return out.map((m) => client.response(m, req.mac));
  return out; // a signed stream: checked by the client's stream verifier elsewhere (xfr tests)
}

describe('transfer server', () => {
  it('answers SOA over UDP, signed for the request', () => {
    const [m] = ask(server(true), soaQuery(1, O), false);
    expect(m && soaSerial(sectionRRs(decode(m).answers).find((r) => r.type === 'SOA'))).toBe(42);
  });

  it('AXFR over TCP streams the zone between two SOAs, encoded once per serial; never over UDP', () => {
    const s = server(true);
    const msgs = s.answer(client.request(transferQuery(2, O)).wire, true);
    expect(msgs.length).toBeGreaterThan(0);
    expect(zone.transfers.size).toBe(1);
    s.answer(client.request(transferQuery(3, O)).wire, true);
    expect(zone.transfers.size).toBe(1);
    const [udp] = ask(s, transferQuery(4, O), false);
    expect(udp && readHeader(udp).rcode).toBe(RCODE.FORMERR);
  });

  it('an unknown zone is SERVFAIL until the set of zones is complete, REFUSED after', () => {
    expect(readHeader(ask(server(false), soaQuery(5, 'other.test'), false)[0] as Buffer).rcode).toBe(RCODE.SERVFAIL);
    expect(readHeader(ask(server(true), soaQuery(7, 'other.test'), false)[0] as Buffer).rcode).toBe(RCODE.REFUSED);
  });

  it('an unsigned request is refused with NOTAUTH and answers nothing of the zone', () => {
    const [m] = server(true).answer(soaQuery(6, O), false);
    expect(m && readHeader(m).rcode).toBe(RCODE.NOTAUTH);
    expect((m && decode(m).answers) ?? []).toHaveLength(0);
  });
});
