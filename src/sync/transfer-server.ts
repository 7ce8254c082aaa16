/**
 * The primary's answering side: SOA over UDP or TCP, AXFR and IXFR over TCP, every request
 * TSIG-checked. Transfer answers are encoded once per serial (cached on the zone) and only
 * re-stamped with the request's ID and signed per request.
 */
import type { Socket as TcpSocket } from 'node:net';
import { canonicalName } from '../dns/rr.js';
import { TsigStreamSigner } from '../dns/tsig.js';
import type { Logger } from '../observability/logger.js';
import type { Auth, AuthOk } from './auth.js';
import { OPCODE_QUERY, RCODE, decode, errorResponse, readHeader, responseTo, sectionRRs, soaSerial } from './codec.js';
import { transfersServed } from './metrics.js';
import type { CachedTransfer, ServedZone } from './served-zone.js';
import { frame, readFrames } from './tcp.js';
import { axfrRecords, ixfrRecords, xfrMessages } from './xfr.js';

/** Distinct transfers kept per serial; more are encoded per request. */
const MAX_CACHED_TRANSFERS = 16;

export interface ZoneLookup {
  zone(origin: string): ServedZone | undefined;
  /**
   * Whether the set of zones is complete: until then a query for an unknown zone gets
   * SERVFAIL ("ask again"), not REFUSED, which an agent takes to mean the zone was removed.
   */
  readonly zonesLoaded: boolean;
}

export class TransferServer {
  private readonly conns = new Set<TcpSocket>();

  constructor(
    private readonly zones: ZoneLookup,
    private readonly auth: Auth,
    private readonly log: Logger,
  ) {}

  /** A transfer connection: framed queries in, framed answers out; idle ones close. */
  onTcp(sock: TcpSocket): void {
    this.conns.add(sock);
    sock.setTimeout(30_000, () => sock.destroy());
    sock.on('close', () => this.conns.delete(sock));
    sock.on('error', () => sock.destroy());
    readFrames(sock, (raw) => {
      for (const m of this.answer(raw, true)) {
        if (sock.writable) sock.write(frame(m));
      }
    });
  }

  /** Answers one query: SOA anywhere, AXFR/IXFR over TCP; the messages to send back. */
  answer(raw: Buffer, tcp: boolean): Buffer[] {
    let h;
    try {
      h = readHeader(raw);
    } catch {
      return [];
    }
    const a = this.auth.check(raw, !this.auth.enabled);
    if (!a.ok) {
      this.log.warn({ error: a.error, reason: a.reason, tcp }, 'request refused: TSIG');
      return a.response ? [a.response] : [];
    }
    if (h.opcode !== OPCODE_QUERY) return this.refuse(raw, RCODE.NOTIMP);
    let p;
    try {
      p = decode(a.message);
    } catch {
      return this.refuse(raw, RCODE.FORMERR);
    }
    const q = p.questions?.[0];
    if (!q || (p.questions?.length ?? 0) !== 1) return this.refuse(raw, RCODE.FORMERR);
    const o = canonicalName(q.name);
    const z = this.zones.zone(o);
    if (!z) return this.refuse(raw, this.zones.zonesLoaded ? RCODE.REFUSED : RCODE.SERVFAIL, a);
    const snap = z.snapshot;
    switch (q.type) {
      case 'SOA':
        transfersServed.inc({ type: 'soa' });
        return [this.auth.answer(responseTo(p, OPCODE_QUERY, RCODE.NOERROR, [snap.soa]), a)];
      case 'AXFR':
        if (!tcp) return this.refuse(raw, RCODE.FORMERR, a);
        transfersServed.inc({ type: 'axfr' });
        this.log.debug({ zone: o, serial: snap.serial }, 'AXFR served');
        return this.stream(p.id ?? 0, cached(z, `axfr\u0000${q.name}\u0000${q.class ?? ''}`, () => ({ kind: 'axfr', messages: xfrMessages(0, q, axfrRecords(snap)) })).messages, a);
      case 'IXFR': {
        const clientSerial = soaSerial(sectionRRs(p.authorities).find((rr) => rr.type === 'SOA'));
        if (clientSerial === undefined) return this.refuse(raw, RCODE.FORMERR, a);
        if (!tcp) {
          // RFC 1995 §2: over UDP, a reply that does not fit is just the SOA ("use TCP").
          transfersServed.inc({ type: 'ixfr-uptodate' });
          return [this.auth.answer(responseTo(p, OPCODE_QUERY, RCODE.NOERROR, [snap.soa]), a)];
        }
        const r = cached(z, `ixfr\u0000${clientSerial >>> 0}\u0000${q.name}\u0000${q.class ?? ''}`, () => {
          const x = ixfrRecords(snap, z.journal, clientSerial);
          return { kind: x.kind, messages: xfrMessages(0, q, x.records) };
        });
        transfersServed.inc({ type: r.kind });
        this.log.debug({ zone: o, serial: snap.serial, from: clientSerial, kind: r.kind }, 'IXFR served');
        return this.stream(p.id ?? 0, r.messages, a);
      }
      default:
        return this.refuse(raw, RCODE.REFUSED, a);
    }
  }

  /** Closes every transfer connection (the primary closes). */
  close(): void {
    for (const c of this.conns) c.destroy();
  }

  /** The cached messages with this request's ID, signed as one TSIG stream when it was signed. */
  private stream(id: number, messages: readonly Buffer[], a: AuthOk): Buffer[] {
    const msgs = messages.map((m) => {
      const c = Buffer.from(m);
      c.writeUInt16BE(id, 0);
      return c;
    });
    if (!a.key || !a.mac) return msgs;
    const signer = new TsigStreamSigner(a.key, a.mac);
    return msgs.map((m) => signer.sign(m));
  }

  private refuse(raw: Buffer, rcode: number, a?: AuthOk): Buffer[] {
    const r = errorResponse(raw, rcode);
    if (!r) return [];
    return [a ? this.auth.answer(r, a) : r];
  }
}

function cached(z: ServedZone, key: string, build: () => CachedTransfer): CachedTransfer {
  const hit = z.transfers.get(key);
  if (hit) return hit;
  const t = build();
  if (z.transfers.size >= MAX_CACHED_TRANSFERS) z.transfers.delete(z.transfers.keys().next().value as string);
  z.transfers.set(key, t);
  return t;
}
