/**
 * The pulling side's I/O: an IXFR/AXFR over TCP (every message verified as one TSIG
 * stream) and an SOA query over UDP. Each call owns its socket and always ends: by the
 * answer, an error, or its deadline. With a key, only an answer the peer signed for our
 * request counts, error answers included: an unsigned REFUSED is what anyone on the path
 * (or a node answering on a masqueraded address) can send, and callers act on REFUSED.
 */
import { connect } from 'node:net';
import { createSocket } from 'node:dgram';
import { randomBytes, randomInt } from 'node:crypto';
import type { RR } from '../dns/rr.js';
import { TsigStreamVerifier, type TsigKey } from '../dns/tsig.js';
import type { Auth } from './auth.js';
import { CLIENT_COOKIE_BYTES, RCODE, decode, readHeader, sectionRRs, soaQuery, transferQuery } from './codec.js';
import { frame, readFrames } from '../dns/framing.js';
import type { HostPort } from '../dns/address.js';
import { XfrCollector, type XfrResult } from './xfr.js';

/** A peer of the sync protocol (dns/address.ts: one address type for every layer). */
export type Endpoint = HostPort;

/** The peer answered with an error RCODE (REFUSED, NOTAUTH, NOTIMP…). */
export class PeerRcodeError extends Error {
  override readonly name = 'PeerRcodeError';
  constructor(
    readonly rcode: number,
    what: string,
  ) {
    super(`${what}: peer answered rcode ${rcode}`);
  }
}

/**
 * An error answer we could not verify (unsigned, or not signed for our request, with our
 * key): not the peer's word. Over TCP it ends the transfer as a transient failure; over UDP
 * it is ignored and the real answer awaited.
 */
export class UnverifiedReplyError extends Error {
  override readonly name = 'UnverifiedReplyError';
}

export class TransferTimeoutError extends Error {
  override readonly name = 'TransferTimeoutError';
}

function newId(): number {
  return randomInt(0, 65536);
}

/** A request as this side sends it: its header ID, its wire form (signed with a key), our MAC. */
export interface SignedRequest {
  readonly id: number;
  readonly wire: Buffer;
  readonly mac: Buffer | undefined;
}

/**
 * A fresh random client cookie for each request: every agent signs with the one key, so two
 * agents' identical requests in the same second (same zone, serial and 16-bit ID; n of them
 * hold ~n²/131,072 such pairs) would be byte-identical, and the primary's replay cache would
 * refuse the second. The entropy goes inside what the MAC covers rather
 * than the cache keying on the sender: over TCP a replayer's address is its own, so a key
 * with the address in it would let a captured request be replayed from anywhere else.
 */
function clientCookie(): Buffer {
  return randomBytes(CLIENT_COOKIE_BYTES);
}

/** The IXFR (from `current`) or AXFR request pullZone sends. */
export function transferRequest(auth: Auth, origin: string, current: RR | undefined, id = newId()): SignedRequest {
  return { id, ...auth.request(transferQuery(id, origin, current, clientCookie())) };
}

/** The SOA query querySoa sends. */
export function soaRequest(auth: Auth, origin: string, id = newId()): SignedRequest {
  return { id, ...auth.request(soaQuery(id, origin, clientCookie())) };
}

/** IXFR when `current` is given (AXFR otherwise) from `peer`. */
export function pullZone(peer: Endpoint, origin: string, current: RR | undefined, auth: Auth, timeoutMs: number): Promise<XfrResult> {
  const req = transferRequest(auth, origin, current);
  const id = req.id;
  const key: TsigKey | undefined = auth.signingKey;
  const verifier = req.mac && key ? new TsigStreamVerifier(key, req.mac) : undefined;
  const collector = new XfrCollector(origin, current !== undefined, current?.type === 'SOA' ? (current.data as { serial: number }).serial >>> 0 : undefined);
  const what = `${current ? 'IXFR' : 'AXFR'} ${origin || '.'} from ${peer.host}:${peer.port}`;
  return new Promise<XfrResult>((resolve, reject) => {
    let done = false;
    let index = 0;
    const sock = connect({ host: peer.host, port: peer.port });
    const finish = (err: Error | undefined, result?: XfrResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(result as XfrResult);
    };
    const timer = setTimeout(() => finish(new TransferTimeoutError(`${what}: no complete answer in ${timeoutMs} ms`)), timeoutMs);
    sock.setNoDelay(true);
    sock.on('connect', () => sock.write(frame(req.wire)));
    sock.on('error', (err) => finish(err));
    sock.on('close', () => finish(new Error(`${what}: connection closed before the transfer ended`)));
    readFrames(sock, (raw) => {
      if (done) return;
      try {
        const h = readHeader(raw);
        if (h.id !== id || !h.qr) return;
        if (h.rcode !== RCODE.NOERROR) {
          if (verifier) {
            try {
              verifier.verify(raw);
            } catch (err) {
              finish(new UnverifiedReplyError(`${what}: rcode ${h.rcode} answer not signed for our request (${err instanceof Error ? err.message : String(err)}); ignored`));
              return;
            }
          }
          finish(new PeerRcodeError(h.rcode, what));
          return;
        }
        const msg = verifier ? verifier.verify(raw) : raw;
        const p = decode(msg);
        const complete = collector.add(sectionRRs(p.answers), index++);
        if (complete) {
          verifier?.finish();
          finish(undefined, collector.result());
        }
      } catch (err) {
        finish(err instanceof Error ? err : new Error(String(err)));
      }
    });
  });
}

/** The zone's SOA at `peer` over UDP (signed when we have a key); undefined on NXDOMAIN/empty. */
export function querySoa(peer: Endpoint, origin: string, auth: Auth, timeoutMs: number): Promise<RR | undefined> {
  const req = soaRequest(auth, origin);
  const id = req.id;
  return new Promise((resolve, reject) => {
    const sock = createSocket(peer.host.includes(':') ? 'udp6' : 'udp4');
    let done = false;
    const finish = (err: Error | undefined, soa?: RR): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.close();
      if (err) reject(err);
      else resolve(soa);
    };
    const timer = setTimeout(() => finish(new TransferTimeoutError(`SOA ${origin} at ${peer.host}:${peer.port}: no answer in ${timeoutMs} ms`)), timeoutMs);
    sock.on('error', (err) => finish(err));
    sock.on('message', (raw) => {
      let h;
      try {
        h = readHeader(raw);
      } catch {
        return;
      }
      if (h.id !== id || !h.qr) return;
      let msg: Buffer;
      try {
        msg = auth.response(raw, req.mac);
      } catch {
        // Unsigned or badly signed: not the peer's answer (RFC 8945 §5.3: discard it) — wait
        // on for the real one until the deadline.
        return;
      }
      if (h.rcode !== RCODE.NOERROR) {
        finish(new PeerRcodeError(h.rcode, `SOA ${origin}`));
        return;
      }
      try {
        const p = decode(msg);
        finish(undefined, sectionRRs(p.answers).find((rr) => rr.type === 'SOA' && rr.name === origin));
      } catch (err) {
        finish(err instanceof Error ? err : new Error(String(err)));
      }
    });
    // Connected: the kernel passes only datagrams from the endpoint asked, so an answer
    // from anywhere else (someone guessing our port and ID) never reaches us.
    sock.connect(peer.port, peer.host, () => {
      if (!done) sock.send(req.wire);
    });
  });
}
