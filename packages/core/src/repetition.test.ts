import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RepetitionTracker } from './repetition.js';

describe('RepetitionTracker', () => {
  it('counts identical calls within the time window and flags a loop', () => {
    const tracker = new RepetitionTracker({ window: 32, windowMs: 10_000, minRepeats: 5 });
    const counts = [0, 1, 2, 3, 4].map((i) => tracker.observe('search("same query")', i * 100));
    expect(counts).toEqual([1, 2, 3, 4, 5]);
    expect(tracker.isLoop(counts.at(-1)!)).toBe(true);
    expect(tracker.observe('search("other")', 600)).toBe(1);
    // Old repeats fall out of the time window.
    expect(tracker.observe('search("same query")', 20_000)).toBe(1);
  });

  it('never flags varied calls, however many', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ minLength: 1 }), { minLength: 1, maxLength: 200 }), (calls) => {
        const tracker = new RepetitionTracker();
        calls.forEach((call, i) => {
          expect(tracker.isLoop(tracker.observe(call, i))).toBe(false);
        });
      }),
    );
  });

  it('remembers only the last `window` calls', () => {
    const tracker = new RepetitionTracker({ window: 4, windowMs: 1e9, minRepeats: 3 });
    tracker.observe('a', 0);
    for (let i = 1; i <= 4; i++) tracker.observe(`b${i}`, i);
    expect(tracker.observe('a', 5)).toBe(1);
  });

  it('round-trips through a snapshot with the same verdicts', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c', 'd'), fc.integer({ min: 0, max: 500 })), {
          maxLength: 80,
        }),
        fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c', 'd'), fc.integer({ min: 0, max: 500 })), {
          maxLength: 40,
        }),
        (before, after) => {
          const config = { window: 8, windowMs: 2_000, minRepeats: 3 };
          const original = new RepetitionTracker(config);
          let t = 0;
          for (const [call, gap] of before) {
            t += gap;
            original.observe(call, t);
          }
          const copy = RepetitionTracker.restore(original.snapshot(t), config);
          for (const [call, gap] of after) {
            t += gap;
            expect(copy.observe(call, t)).toBe(original.observe(call, t));
          }
        },
      ),
    );
  });
});
