/** The output buffer of the encoder, with RFC 1035 §4.1.4 name compression. */
import { WireError } from './wire-error.js';

const MAX_POINTER = 0x3fff;

export class Writer {
  buf: Buffer;
  off = 0;
  readonly table = new Map<string, number>();

  constructor(
    readonly compress: boolean,
    readonly foldCase: boolean,
  ) {
    this.buf = Buffer.allocUnsafe(512);
  }

  ensure(n: number): void {
    if (this.off + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.off + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.off);
    this.buf = next;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.off++] = v & 0xff;
  }
  u16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(v & 0xffff, this.off);
    this.off += 2;
  }
  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.off);
    this.off += 4;
  }
  bytes(b: Buffer): void {
    this.ensure(b.length);
    b.copy(this.buf, this.off);
    this.off += b.length;
  }

  /** Writes a name, compressing against (and adding to) the table when `compressible`. */
  name(raw: string, compressible: boolean): void {
    let name = raw;
    if (name.endsWith('.')) name = name.slice(0, -1);
    if (name.startsWith('.')) name = name.slice(1);
    if (name === '') {
      this.u8(0);
      return;
    }
    if (name.length > 253) throw new WireError(`name too long: ${raw}`);
    const useTable = this.compress && compressible;
    const key = this.foldCase ? name.toLowerCase() : name;
    let start = 0;
    while (start < name.length) {
      if (useTable) {
        const ptr = this.table.get(start === 0 ? key : key.slice(start));
        if (ptr !== undefined) {
          this.u16(0xc000 | ptr);
          return;
        }
        if (this.off <= MAX_POINTER) this.table.set(start === 0 ? key : key.slice(start), this.off);
      }
      let end = name.indexOf('.', start);
      if (end < 0) end = name.length;
      const label = name.slice(start, end);
      const len = Buffer.byteLength(label, 'utf8');
      if (len === 0) throw new WireError(`empty label in ${raw}`);
      if (len > 63) throw new WireError(`label longer than 63 octets in ${raw}`);
      this.ensure(len + 1);
      this.buf[this.off++] = len;
      this.buf.write(label, this.off, 'utf8');
      this.off += len;
      start = end + 1;
    }
    this.u8(0);
  }

  /** Forgets compression targets at or after `offset` (after a rollback). */
  forgetFrom(offset: number): void {
    for (const [k, v] of this.table) if (v >= offset) this.table.delete(k);
  }
}

