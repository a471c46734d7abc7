import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Anomaly } from './anomaly.js';
import { base64ToBytes, bytesToBase64 } from './base64.js';
import { AgentDetector, DEFAULT_DETECTOR_CONFIG, DetectorSnapshot, detectorConfig } from './detector.js';
import { compileChecker } from './schema.js';
import { noisyVital, seededRandom, testVital } from './testing.js';
import type { Vital } from './vital.js';

function warmDetector(seed = 1, samples = 40): { detector: AgentDetector; random: () => number } {
  const random = seededRandom(seed);
  const detector = new AgentDetector();
  for (let i = 0; i < samples; i++) expect(detector.observe(noisyVital(random))).toEqual([]);
  return { detector, random };
}

/** A detector after `samples` noisy vitals, whatever it made of them (long runs have the odd 3σ vital). */
function trainedDetector(seed: number, samples: number): { detector: AgentDetector; random: () => number } {
  const random = seededRandom(seed);
  const detector = new AgentDetector();
  for (let i = 0; i < samples; i++) detector.observe(noisyVital(random));
  return { detector, random };
}

const types = (anomalies: readonly Anomaly[]) => anomalies.map((a) => a.type).sort();

describe('AgentDetector', () => {
  it('judges nothing until the baseline has minSamples vitals', () => {
    const detector = new AgentDetector();
    for (let i = 0; i < DEFAULT_DETECTOR_CONFIG.minSamples; i++) {
      expect(detector.warm).toBe(false);
      expect(detector.observe(testVital({ latency_ms: i % 2 ? 10 : 100_000 }))).toEqual([]);
    }
    expect(detector.warm).toBe(true);
  });

  it('flags a latency spike with its deviation in σ', () => {
    const { detector } = warmDetector();
    const [anomaly, ...rest] = detector.observe(testVital({ latency_ms: 5000 }));
    expect(rest).toEqual([]);
    expect(anomaly).toMatchObject({ type: 'latency_spike', metric: 'latency_ms', observed: 5000 });
    // ~19σ raw; the σ-equivalent of a 40-vital baseline's Student-t tail is about half that.
    expect(anomaly!.sigma).toBeGreaterThan(8);
    expect(anomaly!.expected).toBeGreaterThan(700);
    expect(anomaly!.expected).toBeLessThan(900);
  });

  describe('on a young, quiet baseline (20 calls within ±3 %)', () => {
    /** ~1000 tokens and 800 ms with a deterministic ±2 % wobble, × `factor` on tokens and cost. */
    const quiet = (i: number, factor = 1): Vital => {
      const wobble = ((i * 7919) % 1000) / 1000;
      const input = Math.round((700 + wobble * 40) * factor);
      const output = Math.round((300 + wobble * 20) * factor);
      return testVital({
        input_tokens: input,
        output_tokens: output,
        total_tokens: input + output,
        cost: (input + output) * 1e-6,
        latency_ms: 800 + wobble * 40,
        tool_calls: 0,
      });
    };
    const young = (samples = 20) => {
      const detector = new AgentDetector();
      for (let i = 0; i < samples; i++) expect(detector.observe(quiet(i))).toEqual([]);
      return detector;
    };
    const tokenSpike = (anomalies: readonly Anomaly[]) => anomalies.find((a) => a.type === 'token_spike');

    it('measures a shift in floors, not shrunk by a Student-t tail as well: +40 % is over 3σ', () => {
      // The learned spread (~1 %) is under the 10 % floor, which is not an estimate: log 1.4 / log 1.1 is
      // 3.5 floors, Gaussian. The d7cd367 detector also shrank it as a 20-sample Student-t (to 2.9σ).
      const detector = young();
      const sigma = tokenSpike(detector.observe(quiet(100, 1.4)))?.sigma ?? 0;
      expect(sigma).toBeGreaterThan(3.2);
      expect(sigma).toBeLessThan(3.8);
    });

    it('keeps seeing a mild shift as mild and has sustained evidence by its fourth vital', () => {
      const detector = young();
      const sigmas: number[] = [];
      let sustainedAt = -1;
      for (let i = 0; i < 4; i++) {
        sigmas.push(tokenSpike(detector.observe(quiet(100 + i, 1.4)))?.sigma ?? 0);
        if (sustainedAt < 0 && detector.sustained('token_spike')) sustainedAt = i;
      }
      // Not absorbed by the young baseline (an anomalous vital is learned at the long-memory weight), and
      // reported as the vital's own deviation: mild (under the severe 5σ), however sure the short mean is.
      for (const sigma of sigmas) {
        expect(sigma).toBeGreaterThanOrEqual(3);
        expect(sigma).toBeLessThan(5);
      }
      expect(sustainedAt).toBeGreaterThanOrEqual(1);
      expect(sustainedAt).toBeLessThanOrEqual(3);
    });

    it('finds 5× the typical tokens after 30 calls severe on every vital of the episode', () => {
      const detector = young(30);
      for (let i = 0; i < 5; i++) {
        expect(tokenSpike(detector.observe(quiet(100 + i, 5)))?.sigma).toBeGreaterThan(8);
      }
      expect(detector.sustained('token_spike')).toBe(true);
    });
  });

  it('flags output, total and cost spikes together when the model rambles', () => {
    const { detector } = warmDetector();
    const anomalies = detector.observe(
      testVital({ output_tokens: 4000, total_tokens: 4500, cost: (500 * 0.15 + 4000 * 0.6) / 1e6 }),
    );
    expect(types(anomalies)).toEqual(['cost_spike', 'output_token_spike', 'token_spike']);
  });

  it('flags input-token growth on its own', () => {
    const { detector } = warmDetector();
    expect(
      types(detector.observe(testVital({ input_tokens: 3000, total_tokens: 3200, cost: 0.0006 }))),
    ).toContain('input_token_spike');
  });

  it('flags a tool-call explosion', () => {
    const { detector } = warmDetector();
    expect(types(detector.observe(testVital({ tool_calls: 15 })))).toEqual(['tool_explosion']);
  });

  it('flags an error-rate spike over the recent window, not on one error', () => {
    const { detector, random } = warmDetector();
    expect(detector.observe(noisyVital(random, { success: false, error_type: 'rate_limit' }))).toEqual([]);
    let flagged: readonly Anomaly[] = [];
    for (let i = 0; i < 10 && flagged.length === 0; i++) {
      flagged = detector.observe(noisyVital(random, { success: false, error_type: 'server_error' }));
    }
    expect(types(flagged)).toEqual(['error_rate_spike']);
    expect(flagged[0]!.observed).toBeGreaterThanOrEqual(DEFAULT_DETECTOR_CONFIG.minErrorRate);
  });

  it('flags a retry storm', () => {
    const { detector, random } = warmDetector();
    let flagged: readonly Anomaly[] = [];
    for (let i = 0; i < 10 && flagged.length === 0; i++)
      flagged = detector.observe(noisyVital(random, { retries: 2 }));
    expect(types(flagged)).toEqual(['high_retry_rate']);
  });

  it('learns the prompts seen while warming up and flags a new one afterwards', () => {
    const random = seededRandom(7);
    const detector = new AgentDetector();
    for (let i = 0; i < 30; i++) {
      detector.observe(noisyVital(random, { prompt_hash: i % 2 ? 'p1' : 'p2' }));
    }
    expect(detector.observe(noisyVital(random, { prompt_hash: 'p2' }))).toEqual([]);
    expect(detector.observe(noisyVital(random, { prompt_hash: 'p3' }))).toMatchObject([
      { type: 'prompt_change', sigma: DEFAULT_DETECTOR_CONFIG.promptChangeSigma },
    ]);
    // Still unknown: the drifted prompt is not silently accepted.
    expect(types(detector.observe(noisyVital(random, { prompt_hash: 'p3' })))).toEqual(['prompt_change']);
  });

  it('learns anomalous samples too, but winsorised: they move the baseline a little, never a lot', () => {
    const { detector } = trainedDetector(1, 1000);
    const before = detector.baseline('latency_ms');
    const sd = Math.max(before.sd, Math.log1p(0.1));
    // 9 s against 800 ms is about 25 sd; twenty of them move the mean by at most 20 × 4 sd / n.
    for (let i = 0; i < 20; i++)
      expect(types(detector.observe(testVital({ latency_ms: 9000 })))).toContain('latency_spike');
    const after = detector.baseline('latency_ms');
    expect(after.mean - before.mean).toBeGreaterThan(0);
    expect(after.mean - before.mean).toBeLessThan(2 * sd);
  });

  it('learns from failed calls only their error bit, never their empty token counts', () => {
    const { detector, random } = warmDetector();
    const before = detector.baseline('output_tokens');
    detector.observe(noisyVital(random, { success: false, output_tokens: 0, total_tokens: 0 }));
    expect(detector.baseline('output_tokens')).toEqual(before);
  });

  it('adapts quickly to a new normal after a healing', () => {
    const shifted = (random: () => number) => noisyVital(random, { latency_ms: 3000 + random() * 100 });
    // Mature baselines: a young one learns fast anyway (its weights are 1/n).
    const slow = trainedDetector(3, 1000);
    const fast = trainedDetector(3, 1000);
    fast.detector.adapt();
    for (let i = 0; i < DEFAULT_DETECTOR_CONFIG.adaptSamples; i++) {
      slow.detector.observe(shifted(slow.random));
      fast.detector.observe(shifted(fast.random));
    }
    expect(fast.detector.adapting).toBe(false);
    expect(types(fast.detector.observe(shifted(fast.random)))).toEqual([]);
    expect(types(slow.detector.observe(shifted(slow.random)))).toEqual(['latency_spike']);
  });

  it('restores from a JSON snapshot and then decides exactly as the original', () => {
    const { detector, random } = warmDetector(11);
    detector.observe(noisyVital(random, { success: false }));
    const snapshot = JSON.parse(JSON.stringify(detector.snapshot())) as unknown;
    const checker = compileChecker(DetectorSnapshot);
    expect(checker.issues(snapshot)).toEqual([]);
    if (!checker.check(snapshot)) throw new Error('unreachable');
    const restored = AgentDetector.restore(snapshot);
    const probe = seededRandom(99);
    for (let i = 0; i < 200; i++) {
      const v = noisyVital(probe, {
        latency_ms: i % 17 === 0 ? 10_000 : 800,
        success: i % 13 !== 0,
        prompt_hash: i % 50 === 0 ? `new-${i}` : 'a'.repeat(64),
      });
      expect(restored.observe(v)).toEqual(detector.observe(v));
    }
    expect(restored.snapshot()).toEqual(detector.snapshot());
  });

  it('keeps per-agent state under 1 KB when serialised, with room to spare', () => {
    const { detector, random } = warmDetector();
    for (let i = 0; i < 8; i++) detector.observe(noisyVital(random, { prompt_hash: `prompt-${i}` }));
    // All six metrics learned, eight prompts remembered: the largest a healthy agent's kind gets.
    expect(JSON.stringify(detector.snapshot()).length).toBeLessThanOrEqual(640);
    // A shift run in progress on every metric adds its fields, still far from the bound.
    for (let i = 0; i < 3; i++)
      detector.observe(noisyVital(random, { latency_ms: 60_000, total_tokens: 90_000 }));
    expect(JSON.stringify(detector.snapshot()).length).toBeLessThanOrEqual(1024);
  });

  it('measures σ on the log scale for tokens, latency and cost: a deviation is a ratio', () => {
    // A long-trained baseline, whose Student-t tail has become Gaussian.
    const { detector } = trainedDetector(1, 1000);
    const { mean, sd, typical } = detector.baseline('latency_ms');
    expect(typical).toBeGreaterThan(700);
    expect(typical).toBeLessThan(900);
    const [anomaly] = detector.observe(
      testVital({ latency_ms: typical * Math.exp(6 * Math.max(sd, Math.log1p(0.1))) }),
    );
    expect(anomaly).toMatchObject({ type: 'latency_spike' });
    // The predictive spread is a little wider than the learned one (the mean's own error), so a bit under 6.
    expect(anomaly!.sigma).toBeGreaterThan(5.5);
    expect(anomaly!.sigma).toBeLessThanOrEqual(6.01);
    expect(mean).toBeCloseTo(Math.log(typical), 12);
  });

  it('judges tool calls as counts: Anscombe scale, one Poisson σ at least', () => {
    const detector = new AgentDetector();
    for (let i = 0; i < 40; i++) detector.observe(testVital({ tool_calls: 0 }));
    // 2·√(3 + 3/8) − 2·√(3/8) ≈ 2.45 Poisson σ: unusual, not anomalous on its own.
    expect(detector.observe(testVital({ tool_calls: 3 }))).toEqual([]);
    expect(types(detector.observe(testVital({ tool_calls: 8 })))).toEqual(['tool_explosion']);
  });

  it('marks a shift that persists as sustained, and never one vital alone', () => {
    const { detector, random } = trainedDetector(5, 200);
    const far = detector.observe(noisyVital(random, { latency_ms: 80_000 }));
    expect(types(far)).toEqual(['latency_spike']);
    expect(far[0]!.sigma).toBeGreaterThan(20);
    expect(detector.sustained('latency_spike')).toBe(false);
    // A moderate shift (×1.56, about 4.4σ) is sustained within three vitals in a row, never on the first.
    const moderate = () => detector.observe(noisyVital(random, { latency_ms: 1_250 }));
    detector.resetEvidence();
    moderate();
    expect(detector.sustained('latency_spike')).toBe(false);
    moderate();
    moderate();
    expect(detector.sustained('latency_spike')).toBe(true);
    expect(detector.sustained('error_rate_spike')).toBe(false);
    // A few normal vitals end it: the short mean (alpha 0.2) takes a few to come back.
    let normal = 0;
    while (detector.sustained('latency_spike') && normal < 10) {
      detector.observe(noisyVital(random));
      normal++;
    }
    expect(normal).toBeLessThanOrEqual(8);
  });

  it('sees a small persisting shift through the short mean, and learns little of it meanwhile', () => {
    const { detector, random } = trainedDetector(9, 300);
    const before = detector.baseline('latency_ms');
    // ×1.3 against a 10 % floor: about 2.7σ a vital, never flagged alone, but it adds up.
    const out: Anomaly[] = [];
    for (let i = 0; i < 12; i++) out.push(...detector.observe(noisyVital(random, { latency_ms: 1_040 })));
    expect(out.some((a) => a.type === 'latency_spike')).toBe(true);
    expect(detector.baseline('latency_ms').typical).toBeLessThan(before.typical * 1.05);
  });

  it('puts a rate on the σ scale through its exact binomial tail', () => {
    const { detector, random } = trainedDetector(3, 60);
    // 2 failures in 5 fresh calls at a 2 % floor is unusual (p ≈ 0.004, 2.7σ) but not a spike.
    detector.resetEvidence();
    const first = [false, true, false, true, true].flatMap((ok) =>
      detector.observe(noisyVital(random, { success: ok })),
    );
    expect(first.filter((a) => a.type === 'error_rate_spike')).toEqual([]);
    let flagged: readonly Anomaly[] = [];
    for (let i = 0; i < 6 && flagged.length === 0; i++)
      flagged = detector.observe(noisyVital(random, { success: false }));
    expect(flagged[0]).toMatchObject({ type: 'error_rate_spike' });
    expect(flagged[0]!.sigma).toBeGreaterThanOrEqual(3);
    expect(flagged[0]!.sigma).toBeLessThan(15);
  });

  it('refuses a snapshot of another layout or version loudly', () => {
    const { detector } = warmDetector();
    const withZero = (text: string) => bytesToBase64(Uint8Array.from([...base64ToBytes(text, 'test'), 0]));
    const snapshot = detector.snapshot();
    expect(() => AgentDetector.restore({ ...snapshot, layout: snapshot.layout + 1 })).toThrow(/layout/);
    expect(() => AgentDetector.restore({ ...snapshot, v: 2 } as never)).toThrow(/version 2/);
    expect(() => AgentDetector.restore({ ...snapshot, baselines: snapshot.baselines.slice(0, -8) })).toThrow(
      /detector snapshot baselines: ends before its layout does/,
    );
    expect(() => AgentDetector.restore({ ...snapshot, baselines: withZero(snapshot.baselines) })).toThrow(
      /detector snapshot baselines: holds \d+ bytes, its layout \d+/,
    );
  });

  it('rejects a config it cannot honour', () => {
    expect(() => detectorConfig({ windowSize: 40 })).toThrow(/windowSize/);
    expect(() => detectorConfig({ alpha: 0 })).toThrow(/alpha/);
    expect(() => detectorConfig({ shortAlpha: 2 })).toThrow(/shortAlpha/);
    expect(() => detectorConfig({ evidenceCap: 0.4 })).toThrow(/evidenceCap/);
    expect(detectorConfig({ thresholds: { latency_spike: 4 } as never }).thresholds.token_spike).toBe(3);
  });

  it('is invariant to rescaling a continuous metric (ms vs s, USD vs cents)', () => {
    const series = fc.array(
      fc.record({
        latency: fc.double({ min: 1, max: 10_000, noNaN: true }),
        cost: fc.double({ min: 0, max: 1, noNaN: true }),
        spike: fc.boolean(),
      }),
      { minLength: 20, maxLength: 120 },
    );
    fc.assert(
      fc.property(series, fc.double({ min: 1e-3, max: 1e3, noNaN: true }), (points, scale) => {
        const plain = new AgentDetector();
        const scaled = new AgentDetector();
        points.forEach((point, i) => {
          const latency = point.spike ? point.latency * 20 : point.latency;
          const base: Partial<Vital> = { ts: i, id: `s-${i}` };
          const a = plain.observe(testVital({ ...base, latency_ms: latency, cost: point.cost }));
          const b = scaled.observe(
            testVital({ ...base, latency_ms: latency * scale, cost: point.cost * scale }),
          );
          expectSameAnomalies(a, b, scale);
        });
      }),
      { numRuns: 200 },
    );
  });
});

function expectSameAnomalies(a: readonly Anomaly[], b: readonly Anomaly[], scale: number): void {
  const threshold = 3;
  const borderline = (x: Anomaly) => Math.abs(x.sigma - threshold) < 1e-6;
  const left = a.filter((x) => !borderline(x));
  const right = b.filter((x) => !borderline(x));
  expect(right.map((x) => x.type)).toEqual(left.map((x) => x.type));
  left.forEach((x, i) => {
    const y = right[i]!;
    expect(y.sigma).toBeCloseTo(x.sigma, 6);
    if (x.metric === 'latency_ms' || x.metric === 'cost') {
      expect(y.expected).toBeCloseTo(
        x.expected * scale,
        Math.max(0, 6 - Math.log10(Math.abs(x.expected * scale) + 1)),
      );
    }
  });
}
