import { describe, expect, it } from 'vitest';
import { decodeStatusZone, formatLag, formatStatus } from './status-table.js';

const NOW = Date.parse('2026-12-03T12:00:00Z');

const zone = (name: string, zoneName: string, status: unknown): unknown => ({ apiVersion: 'dnssync.io/v1alpha1', kind: 'DNSZone', metadata: { name }, spec: { zone: zoneName }, status });

describe('dnssync status table', () => {
  it('prints one line per zone, then one per agent behind with node, serial, lag and last error', () => {
    const zones = [
      zone('corp', 'corp.internal.', {
        serial: 1795636918,
        nodes: '2/3',
        conditions: [{ type: 'Ready', status: 'False' }],
        behind: { count: 1, agents: [{ agent: 'dnssync/agent-x', node: 'n1', ready: true, serial: 1795636900, since: '2026-12-03T11:57:55Z', lastError: 'no answer to 9 NOTIFYs for the current change' }] },
      }),
      zone('calm', 'a.test.', { serial: 7, nodes: '3/3', conditions: [{ type: 'Ready', status: 'True' }], behind: { count: 0, agents: [] } }),
    ].map(decodeStatusZone);
    const text = formatStatus(zones.filter((z) => z !== undefined), NOW);
    expect(text).toBe(
      [
        'ZONE             SERIAL       NODES   READY   BEHIND',
        'a.test.          7            3/3     True    0',
        'corp.internal.   1795636918   2/3     False   1',
        '',
        'AGENT             NODE   ZONE             SERIAL       LAG    READY   LAST ERROR',
        'dnssync/agent-x   n1     corp.internal.   1795636900   2m5s   true    no answer to 9 NOTIFYs for the current change',
        '',
      ].join('\n'),
    );
  });

  it('says when nobody is behind, marks a status not yet written, and counts agents left out of the lists', () => {
    const fresh = decodeStatusZone(zone('new', 'new.test.', undefined));
    expect(fresh).toEqual({ name: 'new', zone: 'new.test.', serial: undefined, nodes: undefined, ready: undefined, behind: undefined });
    expect(formatStatus([fresh!], NOW)).toMatch(/^new\.test\.\s+-\s+-\s+-\s+-\n\nNo agent is behind/m);
    const many = decodeStatusZone(zone('big', 'big.test.', { serial: 1, nodes: '0/30', behind: { count: 30, agents: [{ agent: 'ns/a', ready: false, since: '2026-12-03T10:59:00Z' }] } }));
    const text = formatStatus([many!], NOW);
    expect(text).toMatch(/^ns\/a\s+-\s+big\.test\.\s+none\s+1h1m\s+false\s+-$/m);
    expect(text).toContain('(29 more behind, not listed');
    expect(formatStatus([], NOW)).toBe('No DNSZones.\n');
  });

  it('formats lags', () => {
    expect([0, 59_999, 60_000, 75_000, 3_600_000, 3_700_000].map(formatLag)).toEqual(['0s', '59s', '1m0s', '1m15s', '1h0m', '1h1m']);
  });
});
