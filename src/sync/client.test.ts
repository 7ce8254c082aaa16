/**
 * The pulling side acts only on what the endpoint it asked has signed: an unsigned or badly
 * signed error answer, or any answer from another address, is no answer at all (UDP: keep
 * waiting; TCP: a transient failure, never a PeerRcodeError that callers act on).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { findTsig, keyring, sign, verify } from '../dns/tsig.js';
import type { RR } from '../dns/rr.js';
import { canonicalRR } from '../dns/rdata.js';
import { KEY, WRONG_KEY } from '../../test/sync/helpers.js';
import { Auth } from './auth.js';
import { PeerRcodeError, UnverifiedReplyError, pullZone, querySoa } from './client.js';
import { OPCODE_QUERY, RCODE, decode, errorResponse, responseTo } from './codec.js';
import { frame, readFrames } from '../dns/framing.js';

const ORIGIN = 'client.test';
const SOA: RR = canonicalRR({ name: ORIGIN, type: 'SOA', ttl: 60, data: { mname: 'ns.client.test', rname: 'h.client.test', serial: 42, refresh: 60, retry: 10, expire: 3600, minimum: 5 } });
const auth = new Auth([KEY], 'secondary');
const closers: (() => void)[] = [];
afterEach(() => {
  while (closers.length) (closers.pop() as () => void)();
});

function udp(host: string): Promise<Socket> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    closers.push(() => s.close());
    s.bind(0, host, () => resolve(s));
  });
}

/** The request MAC, to sign an answer with as the peer would. */
function requestMac(raw: Buffer): Buffer {
  return findTsig(raw)?.mac as Buffer;
}

/** The request without its TSIG. */
function bare(raw: Buffer): Buffer {
  return verify(raw, keyring([KEY])).message;
}

describe('querySoa', () => {
  it('ignores unsigned, wrongly signed and misaddressed answers; takes the signed one from the peer', async () => {
    const peer = await udp('127.0.33.1');
    const stranger = await udp('127.0.33.2');
    const addr = peer.address();
    peer.on('message', (raw, rinfo) => {
      const mac = requestMac(raw);
      const refused = errorResponse(bare(raw), RCODE.REFUSED) as Buffer;
      const notauth = errorResponse(bare(raw), RCODE.NOTAUTH) as Buffer;
      // In the order an attacker racing the real answer would send them.
      peer.send(refused, rinfo.port, rinfo.address); // unsigned REFUSED from the right address
      peer.send(notauth, rinfo.port, rinfo.address); // unsigned NOTAUTH
      peer.send(sign(refused, WRONG_KEY, { requestMac: mac }).wire, rinfo.port, rinfo.address); // badly signed
      stranger.send(sign(refused, KEY, { requestMac: mac }).wire, rinfo.port, rinfo.address); // signed, wrong source
      const ok = responseTo(decode(bare(raw)), OPCODE_QUERY, RCODE.NOERROR, [SOA]);
      setImmediate(() => peer.send(sign(ok, KEY, { requestMac: mac }).wire, rinfo.port, rinfo.address));
    });
    const soa = await querySoa({ host: addr.address, port: addr.port }, ORIGIN, auth, 2000);
    expect(soa?.type).toBe('SOA');
    expect((soa?.data as { serial: number }).serial).toBe(42);
  });

  it('a signed REFUSED from the peer is acted on', async () => {
    const peer = await udp('127.0.33.3');
    const addr = peer.address();
    peer.on('message', (raw, rinfo) => {
      const refused = errorResponse(bare(raw), RCODE.REFUSED) as Buffer;
      peer.send(sign(refused, KEY, { requestMac: requestMac(raw) }).wire, rinfo.port, rinfo.address);
    });
    const err = await querySoa({ host: addr.address, port: addr.port }, ORIGIN, auth, 2000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PeerRcodeError);
    expect((err as PeerRcodeError).rcode).toBe(RCODE.REFUSED);
  });
});

describe('pullZone', () => {
  async function tcpPeer(host: string, answer: (req: Buffer) => Buffer): Promise<{ host: string; port: number }> {
    const server: Server = createServer((sock) => {
      sock.on('error', () => sock.destroy());
      readFrames(sock, (raw) => sock.write(frame(answer(raw))));
    });
    closers.push(() => server.close());
    await new Promise<void>((resolve) => server.listen(0, host, () => resolve()));
    const a = server.address();
    return { host, port: typeof a === 'object' && a ? a.port : 0 };
  }

  it('an unsigned REFUSED to a signed AXFR is not a refusal: a transient failure', async () => {
    const peer = await tcpPeer('127.0.33.4', (raw) => errorResponse(bare(raw), RCODE.REFUSED) as Buffer);
    const err = await pullZone(peer, ORIGIN, undefined, auth, 2000).catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(PeerRcodeError);
    expect(err).toBeInstanceOf(UnverifiedReplyError);
  });

  it('a REFUSED signed with another key is not a refusal either', async () => {
    const peer = await tcpPeer('127.0.33.5', (raw) => sign(errorResponse(bare(raw), RCODE.REFUSED) as Buffer, WRONG_KEY, { requestMac: requestMac(raw) }).wire);
    const err = await pullZone(peer, ORIGIN, SOA, auth, 2000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnverifiedReplyError);
  });

  it('a signed REFUSED is', async () => {
    const peer = await tcpPeer('127.0.33.6', (raw) => sign(errorResponse(bare(raw), RCODE.REFUSED) as Buffer, KEY, { requestMac: requestMac(raw) }).wire);
    const err = await pullZone(peer, ORIGIN, undefined, auth, 2000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PeerRcodeError);
    expect((err as PeerRcodeError).rcode).toBe(RCODE.REFUSED);
  });
});
