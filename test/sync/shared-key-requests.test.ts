/**
 * Every agent holds the one TSIG key, so two agents asking the leader the same thing (an IXFR
 * from the same serial, an SOA query) in the same second must not send the same bytes: the
 * leader's replay cache refuses a second message with a MAC it has already taken, and a
 * legitimate agent would be refused as a replay of another. The replay protection itself must
 * stay real: the exact bytes of a request already taken are refused from any address (over TCP
 * a replayer's address is its own, so it can be no part of what makes a request new).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { findTsig } from '../../src/dns/tsig.js';
import { Auth } from '../../src/sync/auth.js';
import { soaRequest, transferRequest, type Endpoint, type SignedRequest } from '../../src/sync/client.js';
import { RCODE, readHeader } from '../../src/sync/codec.js';
import { Primary } from '../../src/sync/primary.js';
import { frame, readFrames } from '../../src/sync/tcp.js';
import { KEY, hosts } from './helpers.js';

const ORIGIN = 'shared-key.test';
const TSIG_BADTIME = 18;
let primary: Primary;

beforeAll(async () => {
  primary = await Primary.start({ host: '127.0.31.40', port: 0, keys: [KEY] });
  primary.setZone(ORIGIN, hosts(ORIGIN, 5));
});

afterAll(async () => {
  await primary.close();
});

/** One request over TCP from `from`; the first answer message. */
function tcpAsk(from: string, to: Endpoint, msg: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: to.host, port: to.port, localAddress: from }, () => sock.write(frame(msg)));
    const t = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no answer to ${from}`));
    }, 3000);
    readFrames(sock, (r) => {
      clearTimeout(t);
      sock.destroy();
      resolve(r);
    });
    sock.on('error', reject);
  });
}

/** One request over UDP from `from`; the answer. */
function udpAsk(from: string, to: Endpoint, msg: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    const t = setTimeout(() => {
      s.close();
      reject(new Error(`no answer to ${from}`));
    }, 3000);
    s.on('message', (r) => {
      clearTimeout(t);
      s.close();
      resolve(r);
    });
    s.bind(0, from, () => s.send(msg, to.port, to.host));
  });
}

/** Two agents with the one key and clocks on the same second, as the pulling side builds their requests. */
function twoAgents(): [Auth, Auth] {
  const second = Math.floor(Date.now() / 1000);
  return [new Auth([KEY], 'secondary', () => second), new Auth([KEY], 'secondary', () => second)];
}

function served(resp: Buffer): void {
  expect({ rcode: readHeader(resp).rcode, tsigError: findTsig(resp)?.error }).toEqual({ rcode: RCODE.NOERROR, tsigError: 0 });
  expect(resp.readUInt16BE(6)).toBeGreaterThan(0);
}

function refusedAsReplay(resp: Buffer): void {
  expect({ rcode: readHeader(resp).rcode, tsigError: findTsig(resp)?.error }).toEqual({ rcode: RCODE.NOTAUTH, tsigError: TSIG_BADTIME });
  expect(resp.readUInt16BE(6)).toBe(0);
}

describe('two agents with the one key, the same request in the same second', () => {
  it('IXFR from the same serial with the same header ID, from two addresses: both are served; a copy of either is refused', async () => {
    const [one, two] = twoAgents();
    const current = primary.zone(ORIGIN)?.soa;
    const id = 4242;
    const first: SignedRequest = transferRequest(one, ORIGIN, current, id);
    const second: SignedRequest = transferRequest(two, ORIGIN, current, id);
    served(await tcpAsk('127.0.31.41', primary.address, first.wire));
    served(await tcpAsk('127.0.31.42', primary.address, second.wire));
    // The replay cache still does its job: the very bytes the first agent sent, sent again
    // from a third address (a replayer's own) or from the first agent's, are refused.
    refusedAsReplay(await tcpAsk('127.0.31.43', primary.address, first.wire));
    refusedAsReplay(await tcpAsk('127.0.31.41', primary.address, second.wire));
  });

  it('AXFR and SOA queries with the same header ID, from two addresses: both are answered', async () => {
    const [one, two] = twoAgents();
    served(await tcpAsk('127.0.31.41', primary.address, transferRequest(one, ORIGIN, undefined, 7).wire));
    served(await tcpAsk('127.0.31.42', primary.address, transferRequest(two, ORIGIN, undefined, 7).wire));
    const soa = soaRequest(one, ORIGIN, 9);
    served(await udpAsk('127.0.31.41', primary.address, soa.wire));
    served(await udpAsk('127.0.31.42', primary.address, soaRequest(two, ORIGIN, 9).wire));
    refusedAsReplay(await udpAsk('127.0.31.43', primary.address, soa.wire));
  });
});
