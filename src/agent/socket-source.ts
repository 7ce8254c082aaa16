/**
 * The serving agent's half of an upgrade that never closes a DNS socket. Closing a socket of
 * a SO_REUSEPORT group drops the datagrams queued on it and resets the connections in its
 * accept queue; an old agent that leaves the group by closing its sockets loses whatever the
 * kernel had just put there (seen in make e2e: 1 UDP query and 1 TCP connection of ~3,700;
 * in test/node-net/handover.test.ts at 300 a second, 2 and 175 of 4,680). So the old agent
 * offers its sockets instead, as HAProxy's `expose-fd listeners` and Envoy's hot restart do:
 * it listens on a Unix socket in the hand-over directory (its path goes in its marker), and
 * whoever connects and asks `{kind: 'sockets', listen}` — the new Pod's socket keeper, on
 * the new agent's behalf — gets the sockets it holds for those addresses, through a bridge
 * process (socket-keeper.ts: descriptors pass only on an IPC channel). The new agent then
 * reads the very same kernel sockets; the old one stops reading and closes its descriptors,
 * which closes nothing: the sockets, queues and all, stay open in the new Pod.
 *
 * The directory is root's (a hostPath); the socket is made 0600 as well: whoever can
 * connect can take the node's DNS sockets.
 */
import { chmod, unlink } from 'node:fs/promises';
import net from 'node:net';
import { logger } from '../observability/logger.js';
import { readRequests, spawnBridge, type HeldSocket } from './socket-keeper.js';
import { socketKey, type SupervisorMessage } from './supervised.js';

const log = (): ReturnType<typeof logger> => logger('socket-source');

const line = (m: SupervisorMessage): string => `${JSON.stringify(m)}\n`;

export class SocketSource {
  private constructor(
    private readonly server: net.Server,
    readonly path: string,
  ) {}

  /** `held()`: the sockets this agent reads now, with their descriptors. */
  static async open(path: string, script: string, held: () => readonly HeldSocket[]): Promise<SocketSource> {
    // Ours from before a restart in place (same identity), killed before it could remove it.
    await unlink(path).catch(() => undefined);
    const server = net.createServer((conn) =>
      readRequests(conn, (m) => {
        if (m.kind !== 'sockets') return 'more';
        const wanted = new Set(m.listen.map(socketKey));
        const offer = held().filter((h) => wanted.has(socketKey(h.listen)));
        if (offer.length === 0) {
          conn.end(line({ kind: 'sockets-done' }));
          return 'stop';
        }
        try {
          const bridge = spawnBridge(script, conn, offer);
          bridge.on('exit', (code) => {
            if (code !== 0) log().warn({ code }, 'socket bridge exited with an error');
          });
          bridge.on('error', (err) => log().error({ err }, 'socket bridge did not start'));
          log().info({ sockets: offer.map((h) => `${h.listen.host}:${h.listen.port}`), bridge: bridge.pid }, 'DNS sockets offered to the newer agent');
        } catch (err) {
          conn.end(line({ kind: 'sockets-error', message: err instanceof Error ? err.message : String(err) }));
          return 'stop';
        }
        conn.destroy();
        return 'stop';
      }, 'socket source'),
    );
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    await chmod(path, 0o600);
    return new SocketSource(server, path);
  }

  /** Stops offering (the file goes with it). Sockets already handed on are not affected. */
  close(): Promise<void> {
    return new Promise((resolve) => (this.server.listening ? this.server.close(() => resolve()) : resolve()));
  }
}
