import { compileChecker } from '@immune/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { eventEnvelope, vitalEnvelope } from './envelopes.js';
import { checkEvent, checkVitalEnvelope, EVENT_SCHEMAS, EVENT_TYPES, VitalEnvelope } from './messages.js';

/** A vital with the required fields only. */
const minimalVital = {
  id: 'v1',
  agent_id: 'a',
  ts: 1,
  source: 'gateway' as const,
  kind: 'llm' as const,
  latency_ms: 1,
  input_tokens: 1,
  output_tokens: 1,
  total_tokens: 2,
  tool_calls: 0,
  retries: 0,
  cost: 0,
  success: true,
};

describe('messages', () => {
  it('has a schema for every event type DESIGN.md lists, each two tokens long', () => {
    expect(EVENT_TYPES.sort()).toEqual(
      [
        'infection.detected',
        'infection.diagnosed',
        'lifecycle.changed',
        'quarantine.applied',
        'quarantine.released',
        'approval.requested',
        'approval.decided',
        'healing.attempted',
        'healing.succeeded',
        'healing.failed',
        'healing.exhausted',
        'probation.passed',
        'probation.failed',
        'fleet.correlated',
        'agent.discovered',
      ].sort(),
    );
    for (const type of EVENT_TYPES) {
      expect(type.split('.')).toHaveLength(2);
      expect(EVENT_SCHEMAS[type]).toHaveProperty('type', 'object');
    }
  });

  it('wraps payloads in the v1 envelope and checks them at the edge', () => {
    const event = eventEnvelope('quarantine.released', 'agent-1', { agent_id: 'agent-1', reason: 'cured' });
    expect(event).toMatchObject({ v: 1, type: 'quarantine.released', agentId: 'agent-1' });
    expect(checkEvent(JSON.parse(JSON.stringify(event)))).toEqual({ ok: true, event });
    expect(checkEvent({ ...event, type: 'nope' })).toEqual({
      ok: false,
      issues: 'unknown event type "nope"',
    });
    expect(checkEvent({ ...event, v: 2 })).toMatchObject({ ok: false, issues: expect.stringMatching(/\/v/) });
  });

  it('checks vital envelopes', () => {
    const vital = minimalVital;
    const envelope = vitalEnvelope(vital);
    expect(envelope).toEqual({ v: 1, id: 'v1', ts: 1, type: 'vital', agentId: 'a', data: vital });
    expect(checkVitalEnvelope(envelope).ok).toBe(true);
    expect(checkVitalEnvelope({ ...envelope, data: { ...vital, input_tokens: -1 } })).toMatchObject({
      ok: false,
      issues: '/data/input_tokens must be >= 0',
    });
  });

  it('accepts exactly the vitals the full schema accepts (the fast path checks unknown fields itself)', () => {
    const full = compileChecker(VitalEnvelope);
    const field = fc.constantFrom(
      'id',
      'agent_id',
      'ts',
      'kind',
      'model',
      'ttft_ms',
      'retries',
      'success',
      'tool_name',
      'trace_id',
      'extra',
      '__proto__',
      'constructor',
    );
    const value = fc.oneof(
      fc.string({ maxLength: 4 }),
      fc.integer({ min: -2, max: 5 }),
      fc.double({ noNaN: true }),
      fc.boolean(),
      fc.constant(null),
      fc.constantFrom('llm', 'tool', 'gateway'),
    );
    const valid = minimalVital;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(field, value), { maxLength: 4 }),
        fc.constantFrom('vital', 'other'),
        (edits, type) => {
          // Through JSON, as off the bus: `__proto__` then is an own field, as JSON.parse makes it.
          const data = JSON.parse(
            `{${[...Object.entries(valid), ...edits].map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`,
          );
          const envelope = { v: 1, id: 'v1', ts: 1, type, agentId: 'a', data };
          expect(checkVitalEnvelope(envelope).ok).toBe(full.check(envelope) && type === 'vital');
        },
      ),
      { numRuns: 2_000 },
    );
    const unknown = JSON.parse(
      `{"v":1,"id":"v1","ts":1,"type":"vital","agentId":"a","data":${JSON.stringify({ ...valid, extra: 1 })}}`,
    );
    expect(checkVitalEnvelope(unknown)).toEqual({ ok: false, issues: '/data/extra is not a known field' });
  });
});
