/**
 * DNS over TCP framing (RFC 1035 §4.2.2, RFC 7766): a two-octet length before each message.
 * The one implementation for the agent's TCP service, its upstream exchanges, the sync
 * engine's transfers and the zone state files.
 */
import type { Socket } from 'node:net';

export function frame(msg: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(msg.length + 2);
  out.writeUInt16BE(msg.length, 0);
  out.set(msg, 2);
  return out;
}

/** Messages framed one after another (a transfer, a state file). */
export function frameAll(msgs: readonly Uint8Array[]): Buffer {
  return Buffer.concat(msgs.map(frame));
}

/** The offset just past the whole frame at `off`; -1 when it is not all there. */
export function frameEnd(buf: Uint8Array, off = 0): number {
  if (buf.length < off + 2) return -1;
  const end = off + 2 + (((buf[off] as number) << 8) | (buf[off + 1] as number));
  return end <= buf.length ? end : -1;
}

/** Bytes read from a stream, taken apart into messages as whole frames arrive. */
export class FrameBuffer {
  private acc: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): void {
    this.acc = this.acc.length === 0 ? chunk : Buffer.concat([this.acc, chunk]);
  }

  /** A whole frame waits at the front. */
  get whole(): boolean {
    return frameEnd(this.acc) >= 0;
  }

  /** The next whole message (a view into the buffer), or undefined. */
  take(): Buffer | undefined {
    const end = frameEnd(this.acc);
    if (end < 0) return undefined;
    const msg = this.acc.subarray(2, end);
    this.acc = this.acc.subarray(end);
    return msg;
  }

  /** Keeps only what is left of a partial frame, not the whole chunk it came in. */
  compact(): void {
    if (this.acc.length > 0 && this.acc.byteOffset !== 0 && !this.whole) this.acc = Buffer.from(this.acc);
  }
}

/** Calls `onMessage` with a copy of each complete message arriving on `socket`. */
export function readFrames(socket: Socket, onMessage: (msg: Buffer) => void): void {
  const frames = new FrameBuffer();
  socket.on('data', (chunk: Buffer) => {
    frames.push(chunk);
    for (let m = frames.take(); m !== undefined; m = frames.take()) onMessage(Buffer.from(m));
  });
}
