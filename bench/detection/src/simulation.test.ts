import { describe, expect, it } from 'vitest';
import { benchPlan } from './config.js';
import { CELLS } from './injections.js';
import { type BenchRun, figures, renderReport } from './report.js';
import { firstContainment, simulate } from './simulation.js';

// A small fleet through the whole benchmark path, so the simulation and the report cannot rot unnoticed.
// The figures themselves are the benchmark's business (docs/detection-benchmark.md), not asserted here.
const { options } = benchPlan('quick');
const small = { ...options, agents: 40, hours: 1.5, injectionEveryHours: 0.5, seed: 7 };

describe('detection benchmark simulation', () => {
  const result = simulate(small);

  it('simulates the fleet, injects anomalies and runs the outage', () => {
    expect(result.vitals).toBeGreaterThan(10_000);
    expect(result.healthyAgentHours).toBeGreaterThan(20);
    expect(result.injections.length).toBeGreaterThan(CELLS.length);
    expect(new Set(result.injections.map((i) => i.kind)).size).toBeGreaterThanOrEqual(8);
    expect(result.outage!.affected).toBeGreaterThan(5);
    for (const injection of result.injections) {
      if (injection.quarantined) expect(injection.full).toBeDefined();
      if (injection.full) expect(injection.full.calls).toBeGreaterThanOrEqual(1);
      // One vital alone is never corroborated: soft containment needs a second anomalous call.
      if (injection.soft) expect(injection.soft.calls).toBeGreaterThanOrEqual(2);
    }
  });

  it('contains severe injections softly, before the drain', () => {
    const severe = result.injections.filter((i) => i.sigma !== undefined && i.sigma >= 8 && i.full);
    expect(severe.length).toBeGreaterThan(0);
    const soft = severe.filter((i) => i.soft !== undefined);
    expect(soft.length).toBeGreaterThan(0);
    for (const i of soft) {
      expect(firstContainment(i)).toBe(i.soft);
      expect(i.soft!.ms).toBeLessThanOrEqual(i.full!.ms);
    }
  });

  it('catches blatant anomalies', () => {
    const blatant = result.injections.filter((i) => i.sigma === 15 && i.kind !== 'error_rate_spike');
    expect(blatant.length).toBeGreaterThan(0);
    expect(blatant.filter((i) => i.detected).length / blatant.length).toBeGreaterThan(0.9);
  });

  it('is deterministic for a seed', () => {
    const again = simulate(small);
    expect({ ...again, elapsedMs: 0 }).toEqual({ ...result, elapsedMs: 0 });
  });

  it('renders a report with every section', () => {
    const run: BenchRun = {
      mode: 'quick',
      options: small,
      seeds: [7],
      workers: 1,
      wallMs: 1,
      results: [result],
    };
    const report = renderReport(run);
    for (const heading of [
      '## Aims',
      '## Recall per anomaly type',
      '## Detection delay',
      '## Containment per anomaly type and magnitude',
      '## False quarantines',
      '## Provider outage',
    ]) {
      expect(report).toContain(heading);
    }
    expect(Number.isFinite(figures([result]).falseQuarantinesPer10k)).toBe(true);
  });
});
