import type { EventData, EventEnvelope, EventType } from '@immune/bus';
import { describe, expect, it } from 'vitest';
import { narrate } from './story.js';

const eventEnvelope = <T extends EventType>(type: T, agentId: string, data: EventData<T>) =>
  ({ v: 1, id: `${type}-1`, ts: 1, type, agentId, data }) as unknown as EventEnvelope;

describe('narrate', () => {
  it('tells each step of the loop in one line, with the CLI command for an approval', () => {
    expect(
      narrate(
        eventEnvelope('agent.discovered', 'research-1', {
          agent_id: 'research-1',
          source: 'gateway',
          identity: 'header',
        }),
      ),
    ).toContain('discovered   research-1');
    expect(
      narrate(
        eventEnvelope('lifecycle.changed', 'research-1', {
          agent_id: 'research-1',
          from: 'INITIALIZING',
          to: 'HEALTHY',
          trigger: 'baseline_ready',
          ts: 1,
          seq: 1,
        }),
      ),
    ).toContain('learned its normal behaviour');
    expect(
      narrate(
        eventEnvelope('approval.requested', 'data-1', {
          approval_id: 'a1',
          infection_id: 'i1',
          agent_id: 'data-1',
          max_deviation: 7.2,
          severity: 'critical',
          hypotheses: [],
        }),
      ),
    ).toContain('immune approve data-1');
  });
});
