import { describe, expect, it } from 'vitest';
import type { Anomaly, AnomalyType } from './anomaly.js';
import { diagnose, type FeedbackCounts, recordFeedback } from './diagnostician.js';

const anomaly = (type: AnomalyType, sigma = 4): Anomaly => ({
  type,
  metric: 'latency_ms',
  observed: 1,
  expected: 0,
  sigma,
});
const top = (types: AnomalyType[], options: { fleet?: boolean; feedback?: FeedbackCounts } = {}) =>
  diagnose(
    { anomalies: types.map((t) => anomaly(t)), fleet_correlated: options.fleet ?? false },
    options.feedback,
  )[0]!.type;

describe('diagnose', () => {
  it('maps characteristic patterns to their likely causes', () => {
    expect(top(['prompt_change'])).toBe('prompt_drift');
    expect(top(['prompt_change', 'tool_explosion'])).toBe('prompt_injection');
    expect(top(['tool_explosion', 'high_retry_rate'])).toBe('infinite_loop');
    expect(top(['input_token_spike'])).toBe('memory_corruption');
    expect(top(['cost_spike'])).toBe('cost_overrun');
    expect(top(['latency_spike', 'error_rate_spike'])).toBe('external_cause');
    expect(top(['error_rate_spike', 'high_retry_rate'])).toBe('tool_instability');
  });

  it('puts external cause first when the fleet shows the same anomaly', () => {
    expect(top(['tool_explosion', 'high_retry_rate'], { fleet: true })).toBe('external_cause');
  });

  it('returns ranked hypotheses whose confidences sum to one, with evidence', () => {
    const hypotheses = diagnose({ anomalies: [anomaly('output_token_spike', 9)], fleet_correlated: false });
    expect(hypotheses.reduce((sum, h) => sum + h.confidence, 0)).toBeCloseTo(1, 12);
    for (let i = 1; i < hypotheses.length; i++) {
      expect(hypotheses[i - 1]!.confidence).toBeGreaterThanOrEqual(hypotheses[i]!.confidence);
    }
    expect(hypotheses[0]!.evidence[0]).toMatch(/output_token_spike at 9\.0σ/);
    expect(hypotheses.some((h) => h.type === 'unknown')).toBe(true);
  });

  it('lets operator feedback on past diagnoses change later rankings', () => {
    const report = { anomalies: [anomaly('latency_spike')], fleet_correlated: false };
    expect(diagnose(report)[0]!.type).toBe('external_cause');

    // Operators keep labelling latency-spike infections in this fleet as memory corruption.
    let feedback: FeedbackCounts = {};
    for (let i = 0; i < 6; i++) feedback = recordFeedback(feedback, ['latency_spike'], 'memory_corruption');

    const after = diagnose(report, feedback);
    expect(after[0]!.type).toBe('memory_corruption');
    expect(after[0]!.evidence.join(' ')).toMatch(/operators confirmed memory_corruption 6x/);
    // Feedback about another anomaly type leaves this pattern alone.
    expect(top(['cost_spike'], { feedback })).toBe('cost_overrun');
  });

  it('counts one label once per anomaly type, and never mutates the counts it is given', () => {
    const before: FeedbackCounts = {};
    const after = recordFeedback(before, ['cost_spike', 'cost_spike', 'token_spike'], 'cost_overrun');
    expect(before).toEqual({});
    expect(after).toEqual({ cost_spike: { cost_overrun: 1 }, token_spike: { cost_overrun: 1 } });
  });
});
