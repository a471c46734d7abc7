import type { JudgeOptions } from '@immune/cli';
import { DEFAULT_OUTAGE, type SimulationOptions } from './simulation.js';

export type Mode = 'full' | 'quick';

/**
 * Full mode simulates ~27k healthy agent-hours (6 fleets × 240 agents × 20 h), enough to tell a false-quarantine
 * rate of 1 per 10k apart from 0 or 10, with a few hundred injections per recall cell, in about 2–3 minutes on two
 * idle cores. Quick mode is a smoke run of a few seconds.
 */
export function benchPlan(mode: Mode): { options: Omit<SimulationOptions, 'seed'>; seeds: number[] } {
  const full = mode === 'full';
  return {
    options: {
      agents: 240,
      hours: full ? 20 : 3,
      warmupMinutes: 30,
      injectionEveryHours: 4,
      injectionMaxVitals: 30,
      injectionMaxMinutes: 15,
      cooldownMinutes: 10,
      holdMinutes: 1,
      outage: DEFAULT_OUTAGE,
      judge: judgeOverrides(),
    },
    seeds: full ? [101, 202, 303, 404, 505, 606] : [101, 202],
  };
}

/** BENCH_JUDGE='{"threshold":4,"severeSigma":10}' tries other settings (replay's --threshold/--min-samples/--severe). */
function judgeOverrides(): JudgeOptions {
  const raw = process.env.BENCH_JUDGE;
  if (raw === undefined || raw === '') return {};
  const parsed = JSON.parse(raw) as Record<string, unknown>;
  const options: JudgeOptions = {};
  for (const key of ['threshold', 'minSamples', 'severeSigma'] as const) {
    const value = parsed[key];
    if (value === undefined) continue;
    if (typeof value !== 'number') throw new TypeError(`BENCH_JUDGE.${key} must be a number`);
    options[key] = value;
  }
  return options;
}
