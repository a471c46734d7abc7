import { fnv1a } from './hash.js';

/**
 * Catches loops from what repeats, not only from how much: the same request (or the same tool with the same
 * arguments) sent again and again in a short time is a tool-call loop or a retry storm even when the call
 * rate looks normal. Per agent it keeps the last `window` fingerprints with their times, in a ring: O(window)
 * per observation with a small constant, and a few hundred bytes of state.
 */
export interface RepetitionConfig {
  /** How many recent calls are remembered. */
  window: number;
  /** Only repeats closer together than this count, ms. */
  windowMs: number;
  /** Identical calls (including this one) that make a loop. */
  minRepeats: number;
}

export const DEFAULT_REPETITION_CONFIG: RepetitionConfig = { window: 32, windowMs: 120_000, minRepeats: 5 };

export class RepetitionTracker {
  private readonly hashes: Uint32Array;
  private readonly times: Float64Array;
  private next = 0;
  private filled = 0;

  constructor(private readonly config: RepetitionConfig = DEFAULT_REPETITION_CONFIG) {
    this.hashes = new Uint32Array(config.window);
    this.times = new Float64Array(config.window);
  }

  /**
   * Records one call and returns how many of the remembered calls within the time window, this one included,
   * carried the same fingerprint.
   */
  observe(fingerprint: string, ts: number): number {
    const hash = fnv1a(fingerprint);
    let repeats = 1;
    for (let i = 0; i < this.filled; i++) {
      if (this.hashes[i] === hash && ts - this.times[i]! <= this.config.windowMs) repeats++;
    }
    this.hashes[this.next] = hash;
    this.times[this.next] = ts;
    this.next = (this.next + 1) % this.config.window;
    if (this.filled < this.config.window) this.filled++;
    return repeats;
  }

  /** Whether a repeat count means a loop. */
  isLoop(repeats: number): boolean {
    return repeats >= this.config.minRepeats;
  }

  /**
   * The remembered calls that can still count at `now` (inside `windowMs`), oldest first. Older ones are left
   * out, which keeps a checkpoint small without changing any later verdict.
   */
  snapshot(now: number): RepetitionSnapshot {
    const hashes: number[] = [];
    const times: number[] = [];
    const size = this.config.window;
    const start = this.filled < size ? 0 : this.next;
    for (let k = 0; k < this.filled; k++) {
      const i = (start + k) % size;
      if (now - this.times[i]! > this.config.windowMs) continue;
      hashes.push(this.hashes[i]!);
      times.push(this.times[i]!);
    }
    return { hashes, times };
  }

  /**
   * Writes what `snapshot(now)` returns straight into `view` at `at`, as (hash, age) pairs of 32-bit
   * integers, age = now − time (at most 2^32 − 1: only calls inside the window, minutes, are kept). Returns
   * how many pairs it wrote. The checkpoint's packer uses it so that snapshotting allocates nothing.
   */
  writeLive(now: number, view: DataView, at: number): number {
    const size = this.config.window;
    const start = this.filled < size ? 0 : this.next;
    let written = 0;
    for (let k = 0; k < this.filled; k++) {
      const i = (start + k) % size;
      const age = now - this.times[i]!;
      if (age > this.config.windowMs) continue;
      view.setUint32(at, this.hashes[i]!);
      view.setUint32(at + 4, Math.min(Math.max(age, 0), 0xffffffff));
      at += 8;
      written++;
    }
    return written;
  }

  static restore(
    snapshot: RepetitionSnapshot,
    config: RepetitionConfig = DEFAULT_REPETITION_CONFIG,
  ): RepetitionTracker {
    const tracker = new RepetitionTracker(config);
    const keep = Math.min(snapshot.hashes.length, snapshot.times.length, config.window);
    const from = Math.min(snapshot.hashes.length, snapshot.times.length) - keep;
    for (let k = 0; k < keep; k++) {
      tracker.hashes[k] = snapshot.hashes[from + k]! >>> 0;
      tracker.times[k] = snapshot.times[from + k]!;
    }
    tracker.filled = keep;
    tracker.next = keep % config.window;
    return tracker;
  }
}

/** A tracker's remembered calls, oldest first: 32-bit fingerprints and their times. */
export interface RepetitionSnapshot {
  hashes: number[];
  times: number[];
}
