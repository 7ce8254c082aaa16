/** DNS over TCP framing (RFC 1035 §4.2.2): a two-octet length before each message. */
import type { Socket } from 'node:net';

export function frame(msg: Uint8Array): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(msg.length);
  return Buffer.concat([len, msg]);
}

/** Calls `onMessage` for each complete message arriving on `socket`. */
export function readFrames(socket: Socket, onMessage: (msg: Buffer) => void): void {
  let pending: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 2) {
      const len = pending.readUInt16BE(0);
      if (pending.length < 2 + len) break;
      const msg = pending.subarray(2, 2 + len);
      pending = pending.subarray(2 + len);
      onMessage(Buffer.from(msg));
    }
  });
}
