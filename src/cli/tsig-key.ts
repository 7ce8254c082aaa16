/** `--tsig-key-file` for every subcommand: a BIND key file, or a one-line flag error. */
import { readFileSync } from 'node:fs';
import { TsigKeyFileError, parseKeyFile, type TsigKey } from '../dns/tsig.js';
import { FlagError } from './flags.js';

export function loadTsigKeys(path: string | undefined, flag = '--tsig-key-file'): TsigKey[] {
  if (path === undefined || path === '') return [];
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new FlagError(`${flag}: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    return parseKeyFile(text);
  } catch (err) {
    if (err instanceof TsigKeyFileError) throw new FlagError(`${flag}: ${path}: ${err.message}`);
    throw err;
  }
}
