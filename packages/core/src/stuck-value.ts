import { upperTailSigma } from './tail.js';

/**
 * A stuck metric (a frozen exporter, a cached answer, a sensor that stopped): the value repeats exactly, run
 * after run, on a series that seldom repeats. No deviation from the mean shows it, so it is judged on its own
 * rates, learned from the runs seen so far: that a value repeats the one before (Laplace's rule), and that a
 * repeat is followed by another (a count that is mostly 0 repeats in long runs). The probability of a run of
 * k repeats is the first rate times the Beta-binomial predictive of k − 1 continuations, whose prior is worth
 * `PRIOR_RUNS` runs with the first rate as its mean: a series that never repeated is not presumed to go on
 * repeating once it does, and a young one, with few runs learned, keeps a heavy tail. That probability is
 * turned into its σ-equivalent (one-sided: a repeat is the least deviation there is).
 *
 * A run counts towards the rates when it ends, so an ongoing one is judged against the history before it,
 * never against itself; a run that alarmed is not learned (the next flat-line alarms too); only a run longer
 * than every normal one before it is judged (a constant that returns to its value after a noisy spell is not
 * stuck). Runs that begin during the warm-up are normal by definition and learned as they grow: a series that
 * is constant from the start never alarms.
 */
const PRIOR_RUNS = 2;

export class StuckValue {
  private last = Number.NaN;
  private seen = 0;
  private repeats = 0;
  private continued = 0;
  private longest = 0;
  /** The current run of repeats, whether it began after the warm-up, and whether it alarmed. */
  private run = 0;
  private judged = false;
  private alarmed = false;
  /** The learned chance, when the run began, that a value repeats the one before; the run's probability. */
  private rate = 0;
  private chance = 1;

  constructor(private readonly minSamples: number) {}

  /** σ-equivalent of the current run (0 when the value moved or the run is not judged). */
  observe(value: number): number {
    const repeated = value === this.last;
    this.last = value;
    this.seen++;
    if (!repeated) {
      this.endRun();
      return 0;
    }
    if (this.run === 0) {
      this.judged = this.seen > this.minSamples;
      this.rate = (this.repeats + 1) / (this.seen + 1);
      this.chance = this.rate;
    } else {
      // The next factor of the Beta-binomial predictive of continuations (see above).
      const prior = PRIOR_RUNS * this.rate;
      const a = this.continued + prior;
      const b = this.repeats - this.continued + (PRIOR_RUNS - prior);
      const j = this.run - 1;
      this.chance *= (a + j) / (a + b + j);
    }
    this.run++;
    if (!this.judged) {
      this.learn(1, this.run > 1 ? 1 : 0);
      if (this.run > this.longest) this.longest = this.run;
      return 0;
    }
    if (this.alarmed || this.run <= this.longest) return 0;
    return upperTailSigma(this.chance);
  }

  /** The current run alarmed: it is an anomaly, not a lesson. */
  markAlarmed(): void {
    this.alarmed = true;
  }

  private endRun(): void {
    if (this.run > 0 && this.judged && !this.alarmed) {
      this.learn(this.run, this.run - 1);
      if (this.run > this.longest) this.longest = this.run;
    }
    this.run = 0;
    this.judged = false;
    this.alarmed = false;
  }

  private learn(repeats: number, continued: number): void {
    this.repeats += repeats;
    this.continued += continued;
  }
}
