/**
 * The metrics/health listener: /metrics (Prometheus), /healthz (the caller's liveness
 * check, or just "the process answers" without one) and /readyz (the caller's readiness
 * check), each with its reason when failing.
 */
import type { Server } from 'node:http';
import { gauge, registry } from './metrics.js';

// Not `import … from 'node:http'`: an ES import of that built-in builds a namespace of all its
// exports, which runs the lazy getters for http.WebSocket & co. and loads undici — 13-14 MB
// of RSS in every agent (measured: bare Node 41 MB, + ES import of node:http 59 MB, + this 45 MB).
const { createServer } = process.getBuiltinModule('node:http');

export interface Readiness {
  /** Undefined when ready; otherwise the reason, shown in the /readyz body. */
  (): string | undefined;
}

/** Undefined when healthy; otherwise why not (the kubelet restarts a container that stays unhealthy). */
export type Liveness = () => Promise<string | undefined>;

/** The readiness /readyz reports, as a metric (the last health server started in this process). */
let readiness: Readiness = () => 'not started';
gauge({
  name: 'dnssync_ready',
  help: '1 when /readyz passes (agent: every zone confirmed with the leader; controller: informers synced), else 0.',
  collect() {
    this.set(readiness() === undefined ? 1 : 0);
  },
});

export async function startHealthServer(host: string, port: number, notReady: Readiness, notLive?: Liveness): Promise<Server> {
  readiness = notReady;
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      registry.metrics().then(
        (body) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(body);
        },
        (err: unknown) => {
          res.writeHead(500);
          res.end(String(err));
        },
      );
      return;
    }
    if (path === '/healthz') {
      (notLive ?? (() => Promise.resolve(undefined)))().then(
        (reason) => {
          res.writeHead(reason === undefined ? 200 : 503, { 'content-type': 'text/plain' });
          res.end(reason === undefined ? 'ok\n' : `unhealthy: ${reason}\n`);
        },
        (err: unknown) => {
          res.writeHead(503, { 'content-type': 'text/plain' });
          res.end(`unhealthy: ${String(err)}\n`);
        },
      );
      return;
    }
    if (path === '/readyz') {
      const reason = notReady();
      res.writeHead(reason === undefined ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(reason === undefined ? 'ok\n' : `not ready: ${reason}\n`);
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
