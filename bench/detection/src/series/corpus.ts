import { Random } from '../random.js';

/** One labelled series: values at 1 sample per step, and the label windows [from, to) around each anomaly. */
export interface LabelledSeries {
  name: string;
  kind: string;
  values: number[];
  windows: Array<{ from: number; to: number; anomaly: string }>;
}

/** The shapes of public labelled corpora (NAB, Yahoo S5): what a real metric looks like before anything breaks. */
const KINDS = [
  'daily',
  'weekly',
  'square',
  'constant',
  'near-constant',
  'mostly-zero',
  'random-walk',
  'trend',
  'lognormal',
] as const;
type Kind = (typeof KINDS)[number];

const LENGTH = 3000;
const DAY = 288; // 5-minute samples

/** The normal signal of one kind at step `i`, and its noise scale (what "sd" means for the anomalies). */
function normal(kind: Kind, r: Random): { at: (i: number, rhythm: number) => number; sd: number } {
  const base = r.between(50, 500);
  switch (kind) {
    case 'daily': {
      const amp = base * r.between(0.2, 0.6);
      const sd = base * 0.03;
      return { at: (i, k) => base + amp * Math.sin((2 * Math.PI * i * k) / DAY) + sd * r.normal(), sd };
    }
    case 'weekly': {
      const amp = base * 0.4;
      const sd = base * 0.03;
      return {
        at: (i, k) =>
          base +
          amp * Math.sin((2 * Math.PI * i * k) / DAY) * (Math.floor(i / DAY) % 7 >= 5 ? 0.3 : 1) +
          sd * r.normal(),
        sd,
      };
    }
    case 'square': {
      // A batch job: high for a quarter of every period.
      const high = base * r.between(2, 4);
      const sd = base * 0.02;
      return { at: (i, k) => ((i * k) % DAY < DAY / 4 ? high : base) + sd * r.normal(), sd };
    }
    case 'constant':
      return { at: () => base, sd: base * 0.05 };
    case 'near-constant':
      return { at: () => base + (r.chance(0.05) ? (r.chance(0.5) ? -1 : 1) : 0), sd: 1 };
    case 'mostly-zero':
      return { at: () => poisson(r, 0.05), sd: 1 };
    case 'random-walk': {
      let level = base;
      const step = base * 0.005;
      return {
        at: () => {
          level += step * r.normal();
          return level;
        },
        sd: step * 3,
      };
    }
    case 'trend': {
      const slope = (base * r.between(0.5, 1.5)) / LENGTH;
      const sd = base * 0.03;
      return { at: (i) => base + slope * i + sd * r.normal(), sd };
    }
    case 'lognormal': {
      const sigma = r.between(0.3, 0.7);
      return { at: () => base * Math.exp(sigma * r.normal()), sd: base * sigma };
    }
  }
}

function poisson(r: Random, lambda: number): number {
  const limit = Math.exp(-lambda);
  let k = 0;
  let p = r.next();
  while (p > limit) {
    k++;
    p *= r.next();
  }
  return k;
}

const ANOMALIES = ['spike', 'level-shift', 'rhythm', 'variance', 'flat-line'] as const;

/**
 * A seeded corpus of `count` series, each of one kind with 3 labelled anomalies after a 600-sample warm-up.
 * Windows follow NAB: 10 % of the series length shared by its anomalies, a quarter of each window before the
 * onset. Anomaly kinds that mean nothing for a shape are not drawn for it (no rhythm in a constant).
 */
export function generateCorpus(seed: number, count: number): LabelledSeries[] {
  const r = new Random(seed);
  const out: LabelledSeries[] = [];
  for (let s = 0; s < count; s++) {
    const kind = KINDS[s % KINDS.length]!;
    const signal = normal(kind, r);
    const allowed = ANOMALIES.filter(
      (a) =>
        !(a === 'rhythm' && !['daily', 'weekly', 'square'].includes(kind)) &&
        !(a === 'flat-line' && ['constant', 'near-constant', 'mostly-zero'].includes(kind)) &&
        !(a === 'variance' && kind === 'mostly-zero'),
    );
    const width = Math.floor((LENGTH * 0.1) / 3);
    const onsets = [800 + r.int(300), 1600 + r.int(300), 2400 + r.int(300)];
    const plan = onsets.map((at) => ({ at, anomaly: allowed[r.int(allowed.length)]! }));
    const values: number[] = [];
    let shift = 0;
    for (let i = 0; i < LENGTH; i++) {
      let rhythm = 1;
      let v = Number.NaN;
      for (const { at, anomaly } of plan) {
        if (i < at) continue;
        const into = i - at;
        if (anomaly === 'rhythm' && into < 300) rhythm = 2;
        if (anomaly === 'level-shift' && into === 0)
          shift += signal.sd * r.between(5, 8) * (r.chance(0.7) ? 1 : -1);
      }
      v = signal.at(i, rhythm) + shift;
      for (const { at, anomaly } of plan) {
        const into = i - at;
        if (into < 0) continue;
        if (anomaly === 'spike' && into < 2) v += signal.sd * r.between(8, 15);
        if (anomaly === 'variance' && into < 200) v += signal.sd * 4 * r.normal();
        if (anomaly === 'flat-line' && into > 0 && into < 200) v = values[at - 1]!;
      }
      if (kind === 'mostly-zero') {
        for (const { at, anomaly } of plan) {
          if (i - at >= 0 && i - at < 5 && anomaly === 'spike') v = poisson(r, 6);
          if (i - at >= 0 && anomaly === 'level-shift')
            v = poisson(r, 0.05) + (i - at < 400 ? poisson(r, 2) : 0);
        }
      }
      values.push(Math.max(kind === 'mostly-zero' ? 0 : Number.NEGATIVE_INFINITY, v));
    }
    out.push({
      name: `${kind}-${s}`,
      kind,
      values,
      windows: plan.map(({ at, anomaly }) => ({
        from: at - Math.floor(width / 4),
        to: at + width - Math.floor(width / 4),
        anomaly,
      })),
    });
  }
  return out;
}
