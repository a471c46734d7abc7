import { describe, expect, it } from 'vitest';
import {
  ANOMALY_CATALOGUE,
  BASELINE_METRIC_ANOMALY,
  buildInfectionReport,
  InfectionReport,
  METRIC_ANOMALY_TYPES,
  severityOf,
} from './anomaly.js';
import { compileChecker } from './schema.js';
import { testVital } from './testing.js';
import { BASELINE_METRICS } from './vital.js';

describe('infection reports', () => {
  it('grades severity by maximum deviation', () => {
    expect([3.2, 4, 5, 7.9, 8, 30].map((s) => severityOf(s))).toEqual([
      'low',
      'medium',
      'high',
      'high',
      'critical',
      'critical',
    ]);
  });

  it('keeps the largest σ per metric and a valid schema', () => {
    const report = buildInfectionReport({
      id: 'inf-1',
      agentId: 'agent-a',
      ts: 1,
      anomalies: [
        { type: 'token_spike', metric: 'total_tokens', observed: 9000, expected: 700, sigma: 6.5 },
        { type: 'output_token_spike', metric: 'output_tokens', observed: 8000, expected: 200, sigma: 9.1 },
        { type: 'latency_spike', metric: 'latency_ms', observed: 5000, expected: 800, sigma: 3.4 },
      ],
      recentVitals: [testVital()],
    });
    expect(report).toMatchObject({
      max_deviation: 9.1,
      severity: 'critical',
      deviations: { total_tokens: 6.5, output_tokens: 9.1, latency_ms: 3.4 },
      fleet_correlated: false,
    });
    expect(compileChecker(InfectionReport).issues(report)).toEqual([]);
  });

  it('refuses an empty infection', () => {
    expect(() => buildInfectionReport({ id: 'x', agentId: 'a', ts: 0, anomalies: [] })).toThrow(RangeError);
  });
});

describe('the anomaly catalogue', () => {
  it('gives every baseline metric the one type that measures it', () => {
    for (const metric of BASELINE_METRICS) {
      expect(ANOMALY_CATALOGUE[BASELINE_METRIC_ANOMALY[metric]].metric).toBe(metric);
    }
    expect(new Set(Object.values(BASELINE_METRIC_ANOMALY))).toEqual(METRIC_ANOMALY_TYPES);
    expect(BASELINE_METRIC_ANOMALY.total_tokens).toBe('token_spike');
    expect(BASELINE_METRIC_ANOMALY.tool_calls).toBe('tool_explosion');
  });
});
