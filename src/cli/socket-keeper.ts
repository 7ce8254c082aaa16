/**
 * `dnssync socket-keeper`: holds the agent's DNS sockets in a container of their own, so a
 * SIGKILL of the agent's whole container does not close them (src/agent/socket-keeper.ts).
 * The agent points at it with `--keeper-socket` (the same path, on a volume both mount).
 */
import { configureLogger, LOG_LEVELS } from '../observability/logger.js';
import { runBridge, SocketKeeper, startAdopted } from '../agent/socket-keeper.js';
import { FlagError, get, parseFlags, usage, type FlagSpec } from './flags.js';

export const KEEPER_FLAGS: FlagSpec[] = [
  { name: 'path', kind: 'string', help: 'the Unix socket agents connect to (a volume shared with the agent container)' },
  { name: 'log-level', kind: 'string', default: 'info', validate: (v) => (LOG_LEVELS.includes(v as never) ? undefined : `'${v}' is not one of ${LOG_LEVELS.join(', ')}`), help: 'pino log level' },
  { name: 'bridge', kind: 'bool', help: '(internal) hand the inherited sockets to the agent on the IPC channel, then exit' },
  { name: 'adopt', kind: 'bool', help: '(internal) take an older agent\'s sockets on the IPC channel, hand them to the agent on fd 4, then keep them at --path' },
];

export async function run(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage('socket-keeper', KEEPER_FLAGS) + '\n');
    return;
  }
  const flags = parseFlags(KEEPER_FLAGS, argv, { ...process.env, DNSSYNC_PATH: undefined });
  const log = configureLogger(get.str(flags, 'log-level') ?? 'info').child({ component: 'socket-keeper' });
  if (get.bool(flags, 'bridge')) {
    process.exitCode = await runBridge();
    return;
  }
  const path = get.str(flags, 'path');
  if (path === undefined) throw new FlagError('--path: required');
  const script = process.argv[1];
  if (script === undefined) throw new FlagError('cannot tell which script to run for the bridge');
  const signalled = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  let keeper: SocketKeeper;
  if (get.bool(flags, 'adopt')) keeper = await startAdopted(path, script);
  else {
    keeper = new SocketKeeper(path, script);
    await keeper.listen();
  }
  // A keeper that handed over to an adopting successor lives as long as it does (it is the
  // container's main process: the kubelet's signals come here and are passed on).
  const signal = await Promise.race([signalled, keeper.ended.then((code) => code)]);
  if (typeof signal === 'number') {
    log.error({ code: signal }, 'the successor keeper exited: the container ends with it');
    process.exitCode = signal === 0 ? 1 : signal;
    return;
  }
  // The pod is going away: its agent container got the same signal and drains on its own
  // copies of the sockets, so ours can go now.
  log.info({ signal, held: keeper.held }, 'stopping');
  await keeper.close(signal);
}
