import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../test/util/wait.js';
import { PushStreams } from './push-stream.js';
import { frame, readFrames } from './tcp.js';

const closers: (() => void)[] = [];
afterEach(() => {
  for (const c of closers.splice(0)) c();
});

/** A peer that answers every framed message with the same bytes reversed. */
async function peer(): Promise<{ server: Server; port: number; got: Buffer[]; conns: Socket[] }> {
  const got: Buffer[] = [];
  const conns: Socket[] = [];
  const server = createServer((c) => {
    conns.push(c);
    readFrames(c, (m) => {
      got.push(m);
      c.write(frame(Buffer.from(m).reverse()));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => {
    for (const c of conns) c.destroy();
    server.close();
  });
  const addr = server.address();
  return { server, port: typeof addr === 'object' && addr ? addr.port : 0, got, conns };
}

describe('push streams', () => {
  it('one connection per agent carries every message in order, and its answers come back', async () => {
    const p = await peer();
    const answers: string[] = [];
    const s = new PushStreams({ onMessage: (host, m) => answers.push(`${host} ${m.toString()}`) });
    closers.push(() => s.close());
    expect(s.send('127.0.0.1', p.port, Buffer.from('abc'))).toBe(true);
    expect(s.send('127.0.0.1', p.port, Buffer.from('xyz'))).toBe(true);
    await waitFor(() => answers.length === 2, { what: 'two answers' });
    expect(answers).toEqual(['127.0.0.1 cba', '127.0.0.1 zyx']);
    expect(p.conns).toHaveLength(1);
    expect(s.size).toBe(1);
  });

  it('a stream that cannot open is not tried again for a while; one closed after use reopens', async () => {
    const p = await peer();
    const port = p.port;
    p.server.close();
    let t = 0;
    const s = new PushStreams({ retryAfterMs: 1000, onMessage: () => undefined });
    closers.push(() => s.close());
    expect(s.usable('127.0.0.1', port, t)).toBe(true);
    s.send('127.0.0.1', port, Buffer.from('lost'));
    await waitFor(() => s.size === 0, { what: 'the refused stream gone' });
    t = Date.now();
    expect(s.usable('127.0.0.1', port, t)).toBe(false);
    expect(s.usable('127.0.0.1', port, t + 1001)).toBe(true);

    const q = await peer();
    const answers: Buffer[] = [];
    const s2 = new PushStreams({ onMessage: (_h, m) => answers.push(m) });
    closers.push(() => s2.close());
    s2.send('127.0.0.1', q.port, Buffer.from('one'));
    await waitFor(() => answers.length === 1, { what: 'first answer' });
    for (const c of q.conns) c.destroy();
    await waitFor(() => s2.size === 0, { what: 'the closed stream forgotten' });
    expect(s2.usable('127.0.0.1', q.port)).toBe(true);
    s2.send('127.0.0.1', q.port, Buffer.from('two'));
    await waitFor(() => answers.length === 2, { what: 'answer on a new stream' });
    expect(q.conns).toHaveLength(2);
  });
});
