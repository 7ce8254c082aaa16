import { describe, expect, it } from 'vitest';
import { onChildExit, restartCommand, restartDelayMs } from './supervisor-policy.js';

describe('supervisor policy', () => {
  it('restarts a crash at once, then backs off to at most 5 s', () => {
    expect([1, 2, 3, 4, 10, 50].map(restartDelayMs)).toEqual([0, 100, 200, 400, 5_000, 5_000]);
  });

  it('exits for good on SIGTERM, on a clean exit and on a configuration error; restarts anything else', () => {
    expect(onChildExit(null, false)).toBe('restart'); // SIGKILL, OOM kill
    expect(onChildExit(1, false)).toBe('restart'); // uncaught exception
    expect(onChildExit(2, false)).toBe('exit');
    expect(onChildExit(0, false)).toBe('exit');
    expect(onChildExit(null, true)).toBe('exit');
  });

  it('hands the resolved upstream Service on as --upstream, dropping the flags that would ask for it again', () => {
    const env = { DNSSYNC_UPSTREAM_SERVICE: 'kube-dns-upstream.kube-system.svc.cluster.local:53', DNSSYNC_UPSTREAM_RESOLVER: '10.96.0.10:53', DNSSYNC_LISTEN: '169.254.20.10:53,10.96.0.10:53', DNSSYNC_UPSTREAM: '192.0.2.1:53' };
    const argv = ['--upstream-service', 'x.svc:53', '--upstream=192.0.2.1:53', '--upstream-resolver=10.96.0.10:53', '--log-level', 'debug'];
    const r = restartCommand(argv, env, ['10.96.0.20:53', '192.0.2.1:53']);
    expect(r.argv).toEqual(['--log-level', 'debug']);
    expect(r.env).toEqual({ DNSSYNC_LISTEN: '169.254.20.10:53,10.96.0.10:53', DNSSYNC_UPSTREAM: '10.96.0.20:53,192.0.2.1:53' });
    // Nothing resolved (no transparent mode): the same command again.
    expect(restartCommand(argv, env, undefined)).toEqual({ argv, env });
  });
});
