import { describe, expect, it } from 'vitest';
import { ReplayCache } from './replay-cache.js';

const mac = (n: number): Buffer => Buffer.from([n & 255, (n >> 8) & 255, 7, 7]);

describe('ReplayCache', () => {
  it('takes a MAC once, refuses its copies while the window is open, forgets it after', () => {
    const c = new ReplayCache();
    expect(c.admit('k', mac(1), 1000, 300, 1000).fresh).toBe(true);
    expect(c.admit('k', mac(1), 1000, 300, 1200).fresh).toBe(false);
    expect(c.admit('other-key', mac(1), 1000, 300, 1200).fresh).toBe(true);
    expect(c.admit('k', mac(2), 1000, 300, 1200).fresh).toBe(true);
    // Past 1000 + 300 the time check refuses a copy anyway: the entry may go.
    c.admit('k', mac(3), 1301, 300, 1301);
    expect(c.size).toBe(1);
  });

  it('when full, drops the oldest and refuses anything signed at or before it', () => {
    const c = new ReplayCache(3);
    for (let i = 0; i < 3; i++) expect(c.admit('k', mac(i), 1000 + i, 300, 1005).fresh).toBe(true);
    expect(c.admit('k', mac(10), 1005, 300, 1005).fresh).toBe(true); // evicts mac(0), signed at 1000
    expect(c.size).toBe(3);
    expect(c.admit('k', mac(0), 1000, 300, 1005).fresh).toBe(false); // a forgotten copy is still refused
    expect(c.admit('k', mac(11), 1000, 300, 1005).fresh).toBe(false); // as is anything as old
    expect(c.admit('k', mac(12), 1006, 300, 1006).fresh).toBe(true);
  });
});
