import { describe, expect, it } from 'vitest';
import { eventEnvelope, vitalEnvelope } from './envelopes.js';
import { checkEvent, checkVitalEnvelope, EVENT_SCHEMAS, EVENT_TYPES } from './messages.js';

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
    const vital = {
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
    const envelope = vitalEnvelope(vital);
    expect(envelope).toEqual({ v: 1, id: 'v1', ts: 1, type: 'vital', agentId: 'a', data: vital });
    expect(checkVitalEnvelope(envelope).ok).toBe(true);
    expect(checkVitalEnvelope({ ...envelope, data: { ...vital, input_tokens: -1 } })).toMatchObject({
      ok: false,
      issues: '/data/input_tokens must be >= 0',
    });
  });
});
