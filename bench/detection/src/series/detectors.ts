import { AgentTriage, SeriesDetector, seriesDetectorConfig, triageConfig, type Vital } from '@immune/core';
import type { LabelledSeries } from './corpus.js';

/** Alarm indices of one series. */
export type SeriesAlarms = (values: readonly number[]) => number[];

export const nullDetector: SeriesAlarms = () => [];

/** The production detector on one generic metric (`immune replay --csv`): its onset alarms. */
export function ourDetector(threshold?: number): SeriesAlarms {
  return (values) => {
    const detector = new SeriesDetector(seriesDetectorConfig(threshold === undefined ? {} : { threshold }));
    const out: number[] = [];
    values.forEach((v, i) => {
      if (detector.observe(v).alarm) out.push(i);
    });
    return out;
  };
}

/** The naive baseline the issue names: an EWMA z-score (alpha 0.01), no freezing, no floor, one alarm per sample. */
export function naiveEwma(threshold: number, alpha = 0.01, warmUp = 30): SeriesAlarms {
  return (values) => {
    let mean = 0;
    let variance = 0;
    const out: number[] = [];
    values.forEach((x, i) => {
      if (i === 0) mean = x;
      else {
        const sd = Math.sqrt(variance);
        if (i >= warmUp && sd > 0 && Math.abs(x - mean) / sd >= threshold) out.push(i);
        const a = Math.max(alpha, 1 / (i + 1));
        const diff = x - mean;
        mean += a * diff;
        variance = (1 - a) * (variance + a * diff * diff);
      }
    });
    return out;
  };
}

/**
 * The production decision path: the series as one agent's `latency_ms` at one call per second through
 * `AgentTriage` (default config); an alarm is each HEALTHY → SUSPECTED move. A value ≤ 0 has no place on the
 * log scale and is skipped by the detector (so a mostly-zero series is judged on its non-zero calls).
 */
export const triagePath: SeriesAlarms = (values) => {
  const triage = new AgentTriage(triageConfig({}));
  const out: number[] = [];
  const t0 = 1_700_000_000_000;
  values.forEach((latency, i) => {
    const ts = t0 + i * 1000;
    const vital: Vital = {
      id: `s-${i}`,
      agent_id: 'series',
      ts,
      source: 'gateway',
      kind: 'llm',
      model: 'm',
      latency_ms: latency,
      input_tokens: 500,
      output_tokens: 200,
      total_tokens: 700,
      tool_calls: 0,
      retries: 0,
      cost: 0.0002,
      success: true,
      prompt_hash: 'p',
    };
    for (const d of [...triage.observe(vital), ...triage.tick(ts)]) {
      if (d.kind === 'transition' && d.transition.to === 'SUSPECTED') out.push(i);
    }
  });
  return out;
};

export function runDetector(corpus: readonly LabelledSeries[], detector: SeriesAlarms): number[][] {
  return corpus.map((s) => detector(s.values));
}
