/**
 * DNS sockets as bare libuv handles: bound (or opened from an inherited descriptor) but never
 * read, so the process holding them steals no query from the process that reads them. The
 * calls are the ones Node's cluster module shares sockets with (`dgram._createSocketHandle`,
 * `net._createServerHandle`); the public bind/listen would start reading here.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { getSystemErrorName } from 'node:util';

// libuv's bind flags, as dgram.js and net.js pass them.
const UV_UDP_REUSEADDR = 4;
const UV_UDP_REUSEPORT = 64;
const UV_TCP_REUSEPORT = 2;

export interface Closable {
  close(): void;
  /** The descriptor (Unix), to pass to a child process. */
  readonly fd?: number;
}
type CreateUdp = (address: string, port: number, type: 'udp4' | 'udp6', fd: number | undefined, flags: number) => Closable | number;
type CreateTcp = (address: string | null, port: number, addressType: 4 | 6, fd: number | undefined, flags: number) => Closable | number;

/** A bound UDP socket (fd undefined), or the UDP socket behind an inherited descriptor. */
export function udpHandle(host: string, port: number, reusePort: boolean, fd?: number): Closable {
  const create = (dgram as unknown as { _createSocketHandle: CreateUdp })._createSocketHandle;
  // Deprecated for applications (DEP0112) but what cluster uses: keep its warning off stderr.
  const quiet = process.noDeprecation;
  process.noDeprecation = true;
  try {
    const h = create(host, port, net.isIPv6(host) ? 'udp6' : 'udp4', fd, reusePort ? UV_UDP_REUSEADDR | UV_UDP_REUSEPORT : 0);
    if (typeof h === 'number') throw new Error(`bind ${getSystemErrorName(h)} ${host}:${port} (udp)`);
    return h;
  } finally {
    process.noDeprecation = quiet;
  }
}

/** A listening TCP socket (fd undefined), or the one behind an inherited descriptor. */
export function tcpHandle(host: string, port: number, reusePort: boolean, fd?: number): Closable {
  const create = (net as unknown as { _createServerHandle: CreateTcp })._createServerHandle;
  // With a descriptor, Node insists on no address (the socket is bound already).
  const h = fd === undefined ? create(host, port, net.isIPv6(host) ? 6 : 4, undefined, reusePort ? UV_TCP_REUSEPORT : 0) : create(null, 0, net.isIPv6(host) ? 6 : 4, fd, 0);
  if (typeof h === 'number') throw new Error(`bind ${getSystemErrorName(h)} ${host}:${port} (tcp)`);
  return h;
}

/** The UDP and TCP socket of one DNS address, both bound, or neither (the first is closed). */
export function socketPair(host: string, port: number, reusePort: boolean): { udp: Closable; tcp: Closable } {
  const udp = udpHandle(host, port, reusePort);
  try {
    return { udp, tcp: tcpHandle(host, port, reusePort) };
  } catch (err) {
    udp.close();
    throw err;
  }
}
