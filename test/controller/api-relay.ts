/**
 * A TCP relay between one controller and the API server that can go silent: after
 * `blackhole()` it swallows every byte in both directions and accepts new connections
 * without forwarding them, but closes nothing — a partition as a dead switch or a stuck
 * load balancer makes it, where a request waits for ever unless the client gives up.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { readFile, writeFile } from 'node:fs/promises';

export class ApiRelay {
  private server: Server | undefined;
  private readonly conns = new Set<Socket>();
  private silent = false;
  port = 0;

  constructor(
    readonly host: string,
    readonly target: { host: string; port: number },
  ) {}

  async start(): Promise<void> {
    this.server = createServer((client) => {
      const up = connect(this.target.port, this.target.host);
      for (const s of [client, up]) {
        this.conns.add(s);
        s.on('error', () => s.destroy());
        s.on('close', () => {
          this.conns.delete(s);
          // A real close from either side passes on (only while not partitioned).
          if (!this.silent) (s === client ? up : client).destroy();
        });
      }
      client.on('data', (d) => {
        if (!this.silent) up.write(d);
      });
      up.on('data', (d) => {
        if (!this.silent) client.write(d);
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, this.host, () => resolve()));
    const a = this.server.address();
    this.port = typeof a === 'object' && a ? a.port : 0;
  }

  blackhole(): void {
    this.silent = true;
  }

  async stop(): Promise<void> {
    for (const c of this.conns) c.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /**
   * A copy of `kubeconfig` (JSON, as the test control plane writes it) whose server is this
   * relay; the API server's certificate names `localhost`, so TLS checks that name.
   */
  async kubeconfig(from: string, to: string): Promise<string> {
    const cfg = JSON.parse(await readFile(from, 'utf8')) as { clusters: Array<{ cluster: Record<string, unknown> }> };
    for (const c of cfg.clusters) {
      c.cluster['server'] = `https://${this.host}:${this.port}`;
      c.cluster['tls-server-name'] = 'localhost';
    }
    await writeFile(to, JSON.stringify(cfg, null, 2), { mode: 0o600 });
    return to;
  }
}
