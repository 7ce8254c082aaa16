/**
 * The floor of Node's UDP path, for the query benchmark: a server that does no DNS work at
 * all. Every datagram is answered with the query itself turned into a response carrying one
 * fixed A record (a compression pointer to the question name), through the same
 * `socket.on('message')` / `socket.send` the agent uses. Whatever this reaches, the agent
 * cannot beat in Node; the gap between the two is the agent's own cost.
 *
 *   node [the agent's V8 flags] dist/test/bench/dgram-floor.js <host> <port>
 *
 * Queries with additional records (EDNS) are ignored: the benchmark's dnsperf runs send none.
 */
import dgram from 'node:dgram';
import { literalLookup } from '../../src/dns/literal-lookup.js';

const [host = '127.0.0.1', port = '0'] = process.argv.slice(2);
/** NAME (pointer to offset 12), TYPE A, CLASS IN, TTL 300, RDLENGTH 4, 192.0.2.1. */
const RECORD = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, 1]);

const socket = dgram.createSocket({ type: 'udp4', lookup: literalLookup });
socket.on('message', (msg, rinfo) => {
  if (msg.length < 12 || ((msg[2] as number) & 0x80) !== 0 || msg.readUInt16BE(10) !== 0) return;
  const out = Buffer.allocUnsafe(msg.length + RECORD.length);
  msg.copy(out, 0);
  RECORD.copy(out, msg.length);
  out[2] = 0x84 | ((msg[2] as number) & 0x01); // QR, AA, RD echoed
  out[3] = 0;
  out.writeUInt16BE(1, 6);
  socket.send(out, rinfo.port, rinfo.address);
});
socket.bind(Number(port), host, () => {
  socket.setRecvBufferSize(4 * 1024 * 1024);
  socket.setSendBufferSize(4 * 1024 * 1024);
});
process.on('SIGTERM', () => socket.close(() => process.exit(0)));
