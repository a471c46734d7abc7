import type { LabelledSeries } from './corpus.js';

/** What a detector did on the corpus, scored NAB-style. */
export interface WindowedScore {
  /** Label windows with at least one alarm. */
  hit: number;
  windows: number;
  /** Alarms outside every window. */
  falseAlarms: number;
  /** NAB-normalised: 0 = flag nothing, 100 = every window at its start and no false alarm. */
  score: number;
}

/** NAB standard profile weights: a missed window −1, a false alarm −0.11, a detection up to +1. */
const A_FN = -1;
const A_FP = -0.11;

/** The NAB scaled sigmoid of the position of the first alarm in its window: ~+1 at the start, 0 at the end. */
function reward(position: number, from: number, to: number): number {
  const y = (position - to) / (to - from); // −1 at the window's start, 0 at its end
  return 2 / (1 + Math.exp(5 * y)) - 1;
}

/** Scores per-series alarm indices: one detection per window (the earliest), every alarm outside a window charged. */
export function scoreAlarms(
  corpus: readonly LabelledSeries[],
  alarms: readonly (readonly number[])[],
): WindowedScore {
  let raw = 0;
  let perfect = 0;
  let hit = 0;
  let windows = 0;
  let falseAlarms = 0;
  corpus.forEach((series, s) => {
    const found = alarms[s]!;
    for (const w of series.windows) {
      windows++;
      perfect += reward(w.from, w.from, w.to);
      const first = found.find((i) => i >= w.from && i < w.to);
      if (first === undefined) raw += A_FN;
      else {
        hit++;
        raw += reward(first, w.from, w.to);
      }
    }
    for (const i of found) {
      if (!series.windows.some((w) => i >= w.from && i < w.to)) {
        falseAlarms++;
        raw += A_FP;
      }
    }
  });
  const nothing = A_FN * windows;
  return { hit, windows, falseAlarms, score: (100 * (raw - nothing)) / (perfect - nothing) };
}
