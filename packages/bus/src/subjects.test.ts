import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createTopology, decodeToken, encodeToken, partitionOf } from './subjects.js';

describe('subjects', () => {
  it('encodes any agent id as one NATS token and back', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 64, unit: 'grapheme' }), (id) => {
        const token = encodeToken(id);
        expect(token).toMatch(/^[A-Za-z0-9_=-]+$/);
        expect(decodeToken(token)).toBe(id);
      }),
    );
    expect(encodeToken('research.agent-1 *>')).toBe('research=2eagent-1=20=2a=3e');
    expect(encodeToken('plain_Agent-7')).toBe('plain_Agent-7');
  });

  it('puts an agent on a stable partition', () => {
    expect(partitionOf('agent-1', 16)).toBe(partitionOf('agent-1', 16));
    expect(partitionOf('agent-1', 16)).toBe(0);
    expect(partitionOf('research-7', 16)).toBe(partitionOf('research-7', 16));
    const counts = new Array(16).fill(0);
    for (let i = 0; i < 16_000; i++) counts[partitionOf(`agent-${i}`, 16)]++;
    for (const count of counts) expect(count).toBeGreaterThan(800);
  });

  it('builds and parses every subject in one place', () => {
    const t = createTopology({ prefix: 'prod-eu', partitions: 8 });
    const subject = t.vitalSubject('a.b');
    expect(subject).toBe(`prod-eu.vitals.${t.partitionOf('a.b')}.a=2eb`);
    expect(t.parseVitalSubject(subject)).toEqual({ partition: t.partitionOf('a.b'), agentId: 'a.b' });
    expect(t.eventSubject('infection.detected', 'a.b')).toBe('prod-eu.events.infection.detected.a=2eb');
    expect(t.parseEventSubject('prod-eu.events.infection.detected.a=2eb')).toEqual({
      type: 'infection.detected',
      agentId: 'a.b',
    });
    expect(t.eventFilter('approval.requested')).toBe('prod-eu.events.approval.requested.*');
    expect(t.eventFilter(undefined, 'x')).toBe('prod-eu.events.*.*.x');
    expect(t.commandSubject('healer', 'approve')).toBe('prod-eu.cmd.healer.approve');
    expect(t.vitalsStream).toBe('PROD_EU_VITALS');
    expect(t.quarantineBucket).toBe('prod-eu_quarantine');
    expect(t.parseVitalSubject('other.vitals.1.x')).toBeUndefined();
  });

  it('refuses a prefix or partition count that would break the subject space', () => {
    expect(() => createTopology({ prefix: 'a.b' })).toThrow(/one token/);
    expect(() => createTopology({ partitions: 0 })).toThrow(/partitions/);
  });
});
