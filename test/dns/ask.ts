/** One UDP question to a DNS server under test; the raw reply, or an error after 2 s. */
import { createSocket } from 'node:dgram';
import { encodeMessage } from '../../src/dns/wire.js';
import { FLAG_RD } from '../../src/dns/header.js';

export async function askUdp(host: string, port: number, name: string, type: string, opts: { rd?: boolean } = {}): Promise<Buffer> {
  const sock = createSocket('udp4');
  try {
    const query = encodeMessage({ id: Math.floor(Math.random() * 65535), flags: opts.rd === false ? 0 : FLAG_RD, questions: [{ name, type }], edns: { udpSize: 4096 } });
    const reply = new Promise<Buffer>((resolve, reject) => {
      sock.once('message', (m) => resolve(m));
      sock.once('error', reject);
      setTimeout(() => reject(new Error(`no reply to ${name} ${type}`)), 2000).unref();
    });
    sock.send(query, port, host);
    return await reply;
  } finally {
    sock.close();
  }
}
