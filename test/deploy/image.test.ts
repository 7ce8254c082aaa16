/**
 * What the container image would run, without a Docker engine: the Dockerfile's shape, and
 * its final stage rebuilt by hand in a clean directory (package.json, package-lock.json,
 * `npm ci --omit=dev`, the built dist/, the capability-carrying node copy), started as the
 * chart starts the agent (uid 65532, no_new_privs, bounding set NET_BIND_SERVICE only,
 * configured through DNSSYNC_* variables) and answering kdig on port 53.
 */
import { execFile } from 'node:child_process';
import { access, chmod, copyFile, cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../controlplane/assets.js';
import { freePort } from '../controlplane/ports.js';
import { ManagedProcess } from '../controlplane/process.js';
import { requireCurrentDist } from '../util/dist.js';
import { waitFor } from '../util/wait.js';

const execFileP = promisify(execFile);
const ADDR = '127.0.80.1'; // this file's loopback range: 127.0.80.0/24
const UID = 65532;

describe('Dockerfile', () => {
  it('is multi-stage on Node 24, installs production dependencies only, runs as non-root, one entrypoint', async () => {
    const text = await readFile(join(repoRoot, 'Dockerfile'), 'utf8');
    const froms = [...text.matchAll(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/gm)];
    expect(froms.length).toBeGreaterThanOrEqual(2);
    expect(/^ARG NODE_IMAGE=(node:24-bookworm-slim|gcr\.io\/distroless\/nodejs24\S*)$/m.test(text)).toBe(true);
    for (const f of froms) expect(f[1]).toBe('${NODE_IMAGE}');
    const final = text.slice(text.lastIndexOf('\nFROM '));
    expect(final).toMatch(/COPY --from=prod-deps \/app\/node_modules/);
    expect(text).toMatch(/AS prod-deps[\s\S]*npm ci --omit=dev/);
    expect(final).toMatch(/^USER 65532:65532$/m);
    expect(final).toMatch(/^ENTRYPOINT \["node", "\/app\/dist\/src\/cli\/main\.js"\]$/m);
    // What the final stage adds to its base is deploy/image/image.sh, shared with the
    // engine-less build (deploy/image/build-oci.sh): the stage must run it, and it must set
    // the capability on the node copy.
    expect(final).toMatch(/^COPY deploy\/image\/image\.sh /m);
    expect(final).toMatch(/image\.sh finish \/ /);
    const shared = await readFile(join(repoRoot, 'deploy', 'image', 'image.sh'), 'utf8');
    expect(shared).toMatch(/setcap cap_net_bind_service=\+ep "\$root\/usr\/local\/bin\/node-netbind"/);
  });

  it('.dockerignore admits exactly what the COPY lines read', async () => {
    const ignore = (await readFile(join(repoRoot, '.dockerignore'), 'utf8')).split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
    expect(ignore[0]).toBe('*');
    const admitted = ignore.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/\*\*$/, ''));
    const text = await readFile(join(repoRoot, 'Dockerfile'), 'utf8');
    const sources = [...text.matchAll(/^COPY (?!--from)(.+)\s+\S+$/gm)].flatMap((m) => (m[1] as string).split(/\s+/));
    expect(sources.length).toBeGreaterThan(0);
    for (const s of sources) expect(admitted, s).toContain(s.replace(/\/$/, ''));
    for (const s of admitted) await access(join(repoRoot, s));
  });
});

describe('the image, rebuilt in a clean directory', () => {
  let dir = '';
  let agent: ManagedProcess | undefined;

  beforeAll(async () => {
    // `make test` builds first; compiling here would rewrite dist/ under other test files' processes.
    requireCurrentDist();
    dir = await mkdtemp(join(tmpdir(), 'dnssync-image-'));
    await chmod(dir, 0o755); // the agent runs as uid 65532 and must read it
    for (const f of ['package.json', 'package-lock.json']) await copyFile(join(repoRoot, f), join(dir, f));
    await execFileP('npm', ['ci', '--omit=dev', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: dir, timeout: 240_000 });
    await cp(join(repoRoot, 'dist', 'src'), join(dir, 'dist', 'src'), { recursive: true });
    // The Dockerfile's node-netbind: node with the file capability cap_net_bind_service.
    await mkdir(join(dir, 'bin'));
    await copyFile(process.execPath, join(dir, 'bin', 'node-netbind'));
    await chmod(join(dir, 'bin', 'node-netbind'), 0o755);
    await execFileP('setcap', ['cap_net_bind_service=+ep', join(dir, 'bin', 'node-netbind')]);
    await mkdir(join(dir, 'etc'));
    await writeFile(
      join(dir, 'etc', 'image.zone'),
      ['$ORIGIN image.test.', '$TTL 300', '@ IN SOA ns hostmaster 1 3600 600 86400 60', '@ IN NS ns', 'ns IN A 10.0.80.53', 'www IN A 10.0.80.80', ''].join('\n'),
    );
    await writeFile(join(dir, 'etc', 'tsig.key'), `key "dnssync" {\n\talgorithm hmac-sha256;\n\tsecret "${Buffer.alloc(32, 7).toString('base64')}";\n};\n`);
    await execFileP('chmod', ['-R', 'a+rX', dir]);
  }, 400_000);

  afterAll(async () => {
    await agent?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('npm ci --omit=dev installed the runtime dependencies and no development ones', async () => {
    const mods = new Set(await readdir(join(dir, 'node_modules')));
    for (const m of ['pino', 'prom-client', 'dns-packet', '@kubernetes']) expect(mods, m).toContain(m);
    for (const m of ['typescript', 'vitest', 'eslint', 'node', 'typescript-eslint']) expect(mods, m).not.toContain(m);
    const types = await readdir(join(dir, 'node_modules', '@types')).catch(() => []);
    expect(types).not.toContain('dns-packet');
  });

  it('starts `dnssync agent` as uid 65532 with only NET_BIND_SERVICE, and it answers on port 53', async () => {
    const metricsPort = await freePort(ADDR);
    const syncPort = await freePort(ADDR);
    const allCaps = (await execFileP('capsh', ['--print'])).stdout.match(/^Bounding set =(.*)$/m)?.[1] ?? '';
    const drop = allCaps.split(',').filter((c) => c !== '' && c !== 'cap_net_bind_service').join(',');
    // What runc does for the chart's securityContext: switch to the user keeping the permitted
    // set, limit bounding and permitted to NET_BIND_SERVICE, set no_new_privs, then exec.
    const args = [
      '--keep=1', `--gid=${UID}`, `--groups=${UID}`, `--uid=${UID}`,
      '--caps=cap_net_bind_service+p cap_setpcap+ep', `--drop=${drop}`, '--caps=cap_net_bind_service+p',
      '--no-new-privs', `--shell=${join(dir, 'bin', 'node-netbind')}`, '--', join(dir, 'dist', 'src', 'cli', 'main.js'), 'agent',
    ];
    const env = {
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      NODE_ENV: 'production',
      POD_IP: ADDR,
      DNSSYNC_LISTEN: `${ADDR}:53`,
      DNSSYNC_SYNC_LISTEN: `${ADDR}:${syncPort}`,
      DNSSYNC_ZONE_FILE: join(dir, 'etc', 'image.zone'),
      DNSSYNC_TSIG_KEY_FILE: join(dir, 'etc', 'tsig.key'),
      DNSSYNC_METRICS_LISTEN: `${ADDR}:${metricsPort}`,
      DNSSYNC_LOG_LEVEL: 'info',
    };
    // The log stays outside `dir`, which is removed after the run.
    const logFile = join(await mkdtemp(join(tmpdir(), 'dnssync-image-log-')), 'agent.log');
    agent = new ManagedProcess({ name: 'agent (image)', command: 'capsh', args, logFile, env });
    const proc = agent;
    const answer = await waitFor(
      async () => {
        proc.assertRunning();
        const r = await execFileP('kdig', [`@${ADDR}`, '-p', '53', '+short', '+timeout=1', '+retry=0', 'www.image.test', 'A']).catch(() => ({ stdout: '' }));
        return r.stdout.trim() === '' ? undefined : r.stdout.trim();
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'the agent answering kdig on port 53' },
    );
    expect(answer).toBe('10.0.80.80');
    const tcp = await execFileP('kdig', [`@${ADDR}`, '-p', '53', '+tcp', '+short', 'ns.image.test', 'A']);
    expect(tcp.stdout.trim()).toBe('10.0.80.53');
    // Healthy, and not ready: signed, with no static primaries, it is an agent of the
    // controller, and no leader here ever sends it the zone list (catalog) it waits for.
    const health = await waitFor(async () => ((await fetch(`http://${ADDR}:${metricsPort}/healthz`)).status === 200 ? true : undefined), { timeoutMs: 10_000, what: '/healthz 200' });
    expect(health).toBe(true);
    const ready = await fetch(`http://${ADDR}:${metricsPort}/readyz`);
    expect({ status: ready.status, body: await ready.text() }).toEqual({ status: 503, body: expect.stringContaining('catalog') as unknown });
    // The process that answered is the non-root one with nothing but NET_BIND_SERVICE.
    const status = await readFile(`/proc/${proc.pid}/status`, 'utf8');
    expect(status).toMatch(new RegExp(`^Uid:\\s+${UID}\\s+${UID}\\s+${UID}\\s+${UID}$`, 'm'));
    expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
    expect(status).toMatch(/^CapEff:\s+0000000000000400$/m);
    expect(status).toMatch(/^CapBnd:\s+0000000000000400$/m);
    const metrics = await (await fetch(`http://${ADDR}:${metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/^dnssync_agent_queries_total\{/m);
  });
});
