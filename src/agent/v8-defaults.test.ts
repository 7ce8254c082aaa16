import { describe, expect, it } from 'vitest';
import { AGENT_V8_FLAGS, envDefaults, REEXEC_MARK, v8FlagsToAdd } from './v8-defaults.js';

describe('agent V8 defaults', () => {
  it('adds every flag when none is given', () => {
    expect(v8FlagsToAdd([], {})).toEqual([...AGENT_V8_FLAGS]);
  });

  it("leaves the operator's own choice alone, in execArgv or NODE_OPTIONS, in any spelling", () => {
    expect(v8FlagsToAdd(['--max-semi-space-size=16'], {})).toEqual(['--optimize-for-size', '--no-maglev']);
    expect(v8FlagsToAdd([], { NODE_OPTIONS: '--max_semi_space_size=4 --no-optimize-for-size --maglev' })).toEqual([]);
    expect(v8FlagsToAdd(['--inspect'], { NODE_OPTIONS: '--optimize-for-size' })).toEqual(['--max-semi-space-size=1', '--no-maglev']);
  });

  it('does nothing once applied or when turned off', () => {
    expect(v8FlagsToAdd([], { [REEXEC_MARK]: '--optimize-for-size' })).toEqual([]);
    expect(v8FlagsToAdd([], { DNSSYNC_V8_DEFAULTS: '0' })).toEqual([]);
  });

  it("sets glibc's arena count only where the operator did not", () => {
    expect(envDefaults({})).toEqual({ MALLOC_ARENA_MAX: '1' });
    expect(envDefaults({ MALLOC_ARENA_MAX: '8' })).toEqual({});
  });
});
