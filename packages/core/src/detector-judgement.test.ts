import { describe, expect, it } from 'vitest';
import {
  AgentDetector,
  DEFAULT_DETECTOR_CONFIG,
  JUDGEMENT_LENGTH,
  JUDGEMENT_SLOTS,
  metricUnitBand,
} from './detector.js';
import { noisyVital, seededRandom } from './testing.js';
import { AgentTriage } from './triage.js';
import { BASELINE_METRICS, type BaselineMetric } from './vital.js';

const slot = (metric: BaselineMetric) => BASELINE_METRICS.indexOf(metric) * JUDGEMENT_SLOTS;

describe('AgentDetector.judgement', () => {
  it('is NaN while cold, then the σ of every metric judged and the band it draws', () => {
    const random = seededRandom(3);
    const detector = new AgentDetector();
    const out = new Float64Array(JUDGEMENT_LENGTH);
    for (let i = 0; i < DEFAULT_DETECTOR_CONFIG.minSamples; i++) {
      detector.observe(noisyVital(random));
      detector.judgement(out);
      for (const metric of BASELINE_METRICS) expect(out[slot(metric)]).toBeNaN();
    }
    detector.observe(noisyVital(random));
    detector.judgement(out);
    for (const metric of BASELINE_METRICS) {
      const at = slot(metric);
      expect(Number.isFinite(out[at])).toBe(true);
      // The band from the judged-scale numbers is the detector's own band.
      const band = detector.band(metric);
      expect(metricUnitBand(metric, out[at + 1]!, out[at + 2]!, out[at + 3]!)).toEqual({
        typical: band.typical,
        low: band.low,
        high: band.high,
      });
      expect(out[at + 3]).toBe(band.k);
    }
  });

  it('carries the σ an anomaly is reported at, and judges only latency on a failed call', () => {
    const random = seededRandom(4);
    const detector = new AgentDetector();
    const out = new Float64Array(JUDGEMENT_LENGTH);
    for (let i = 0; i < 40; i++) detector.observe(noisyVital(random));
    const anomalies = detector.observe(noisyVital(random, { input_tokens: 20_000, total_tokens: 20_200 }));
    detector.judgement(out);
    const spike = anomalies.find((a) => a.type === 'input_token_spike');
    expect(spike?.sigma).toBe(out[slot('input_tokens')]);
    detector.observe(noisyVital(random, { success: false, error_type: 'timeout' }));
    detector.judgement(out);
    expect(Number.isFinite(out[slot('latency_ms')])).toBe(true);
    expect(out[slot('total_tokens')]).toBeNaN();
  });

  it("is what the triage holds after judging a vital, for the sentinel's σ history", () => {
    const random = seededRandom(5);
    const triage = new AgentTriage();
    for (let i = 0; i < 40; i++) triage.observe(noisyVital(random));
    triage.observe(noisyVital(random, { input_tokens: 20_000, total_tokens: 20_200 }));
    expect(triage.judgement[slot('input_tokens')]).toBeGreaterThan(
      DEFAULT_DETECTOR_CONFIG.thresholds.input_token_spike,
    );
  });
});
