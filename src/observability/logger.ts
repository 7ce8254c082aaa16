/**
 * One pino logger per process, JSON lines to stdout. Stable keys across the code base:
 * `zone`, `serial`, `agent`, `record`, `err`. Children add a `component` key.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

let root: Logger = pino({ level: 'info', base: { app: 'dnssync' } });

export const LOG_LEVELS: readonly LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function configureLogger(level: string, base: Record<string, unknown> = {}): Logger {
  root = pino({ level, base: { app: 'dnssync', ...base }, timestamp: pino.stdTimeFunctions.isoTime });
  return root;
}

export function logger(component: string): Logger {
  return root.child({ component });
}
