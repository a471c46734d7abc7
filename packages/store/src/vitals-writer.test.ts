import type { Vital } from '@immune/core';
import { captureLogs } from '@immune/runtime/testing';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Db } from './database.js';
import { unstorableReason } from './repositories/vitals.js';
import {
  UnstorableVitalError,
  type VitalsInserter,
  VitalsWriter,
  WriterClosedError,
} from './vitals-writer.js';

// The writer never touches the database itself: every write goes through the inserter, faked here.
const db = {} as Db;

let counter = 0;
const vital = (overrides: Partial<Vital> = {}): Vital => ({
  id: `v-${++counter}`,
  agent_id: 'a',
  ts: 1_700_000_000_000 + counter,
  source: 'gateway',
  kind: 'llm',
  latency_ms: 10,
  input_tokens: 1,
  output_tokens: 1,
  total_tokens: 2,
  tool_calls: 0,
  retries: 0,
  cost: 0,
  success: true,
  ...overrides,
});

/** An inserter whose batches complete only when the test says so. */
function manualInserter() {
  const calls: Array<{ ids: string[]; succeed: () => void; fail: (error: unknown) => void }> = [];
  let running = 0;
  let maxRunning = 0;
  const insert: VitalsInserter = (_db, vitals) => {
    running++;
    maxRunning = Math.max(maxRunning, running);
    return new Promise<number>((resolve, reject) => {
      calls.push({
        ids: vitals.map((v) => v.id),
        succeed: () => {
          running--;
          resolve(vitals.length);
        },
        fail: (error) => {
          running--;
          reject(error);
        },
      });
    });
  };
  return { insert, calls, maxRunning: () => maxRunning };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

afterEach(() => {
  vi.useRealTimers();
});

describe('VitalsWriter', () => {
  it('refuses nonsensical options', () => {
    expect(() => new VitalsWriter(db, { batchSize: 0 })).toThrow(RangeError);
    expect(() => new VitalsWriter(db, { batchSize: 10, maxPending: 5 })).toThrow(RangeError);
    expect(() => new VitalsWriter(db, { concurrency: 1.5 })).toThrow(RangeError);
    expect(() => new VitalsWriter(db, { flushIntervalMs: -1 })).toThrow(RangeError);
  });

  it('cuts batches at batchSize and writes the rest on flush', async () => {
    const sizes: number[] = [];
    const writer = new VitalsWriter(db, {
      batchSize: 1000,
      maxPending: 5000,
      flushIntervalMs: 60_000,
      insert: async (_db, vitals) => {
        sizes.push(vitals.length);
        return vitals.length;
      },
    });
    const adds = Array.from({ length: 2500 }, () => writer.add(vital()));
    await tick();
    expect(sizes).toEqual([1000, 1000]);
    await writer.flush();
    await Promise.all(adds);
    expect(sizes).toEqual([1000, 1000, 500]);
    expect(writer.stats).toMatchObject({ written: 2500, batches: 3, pending: 0 });
  });

  it('writes a partial batch once its first vital has waited flushIntervalMs', async () => {
    vi.useFakeTimers();
    const insert = vi.fn<VitalsInserter>(async (_db, vitals) => vitals.length);
    const writer = new VitalsWriter(db, { batchSize: 100, flushIntervalMs: 200, insert });
    const added = writer.add(vital());
    await vi.advanceTimersByTimeAsync(150);
    void writer.add(vital());
    await vi.advanceTimersByTimeAsync(49);
    expect(insert).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(insert).toHaveBeenCalledTimes(1);
    expect(insert.mock.calls[0]![1]).toHaveLength(2);
    await added;
  });

  it('resolves a vital only when its own batch commits', async () => {
    const { insert, calls } = manualInserter();
    const writer = new VitalsWriter(db, { batchSize: 2, flushIntervalMs: 60_000, insert });
    const done: string[] = [];
    const all = ['a', 'b', 'c', 'd'].map((id) => writer.add(vital({ id })).then(() => done.push(id)));
    await tick();
    expect(calls.map((c) => c.ids)).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
    calls[1]!.succeed();
    await tick();
    expect(done).toEqual(['c', 'd']);
    calls[0]!.succeed();
    await Promise.all(all);
    expect(done).toEqual(['c', 'd', 'a', 'b']);
  });

  it('never runs more batches at once than its concurrency', async () => {
    const { insert, calls, maxRunning } = manualInserter();
    const writer = new VitalsWriter(db, { batchSize: 1, maxPending: 10, concurrency: 3, insert });
    const adds = Array.from({ length: 10 }, () => writer.add(vital()));
    await tick();
    expect(calls).toHaveLength(3);
    while (calls.some((c) => c !== undefined)) {
      const next = calls.shift()!;
      next.succeed();
      await tick();
    }
    await Promise.all(adds);
    expect(maxRunning()).toBe(3);
  });

  it('holds at most maxPending vitals and admits waiting callers in order', async () => {
    const { insert, calls } = manualInserter();
    const writer = new VitalsWriter(db, { batchSize: 2, maxPending: 4, concurrency: 1, insert });
    const ids = Array.from({ length: 9 }, (_, i) => `w${i}`);
    const adds = ids.map((id) => writer.add(vital({ id })));
    await tick();
    expect(writer.stats).toMatchObject({ pending: 4, waiting: 5 });
    const written: string[] = [];
    const flushed = writer.flush();
    while (written.length < ids.length) {
      await tick();
      const next = calls.shift();
      if (next === undefined) continue;
      expect(writer.stats.pending).toBeLessThanOrEqual(4);
      written.push(...next.ids);
      next.succeed();
    }
    await flushed;
    await Promise.all(adds);
    expect(written).toEqual(ids);
  });

  it('rejects every vital of a failed batch with the database error, and carries on', async () => {
    const { insert, calls } = manualInserter();
    const logs = captureLogs();
    const writer = new VitalsWriter(db, { batchSize: 2, insert, logger: logs.logger });
    const failed = [writer.add(vital()), writer.add(vital())];
    // A caller that drops its promise must not cause an unhandled rejection (vitest would report it).
    void writer.add(vital());
    void writer.add(vital());
    await tick();
    const boom = new Error('connection reset');
    calls[0]!.fail(boom);
    calls[1]!.fail(boom);
    for (const result of await Promise.allSettled(failed)) {
      expect(result).toEqual({ status: 'rejected', reason: boom });
    }
    expect(writer.stats).toMatchObject({ failed: 4, failedBatches: 2, pending: 0 });
    expect(logs.entries().filter((entry) => entry.level === 'error')).toHaveLength(2);

    const later = writer.add(vital());
    const flushed = writer.flush();
    await tick();
    calls[2]!.succeed();
    await flushed;
    await later;
    expect(writer.stats.written).toBe(1);
  });

  it('refuses an unstorable vital at once and alone', async () => {
    const insert = vi.fn<VitalsInserter>(async (_db, vitals) => vitals.length);
    const writer = new VitalsWriter(db, { insert });
    const error = await writer.add(vital({ input_tokens: 2 ** 31 })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnstorableVitalError);
    expect((error as UnstorableVitalError).reason).toMatch(/input_tokens/);
    expect(writer.stats.pending).toBe(0);
    await writer.close();
    expect(insert).not.toHaveBeenCalled();
  });

  it('closes once, writes what it holds, and refuses later vitals', async () => {
    const insert = vi.fn<VitalsInserter>(async (_db, vitals) => vitals.length);
    const writer = new VitalsWriter(db, { batchSize: 10, flushIntervalMs: 60_000, insert });
    await writer.flush();
    const held = writer.add(vital());
    await writer.close();
    await held;
    expect(insert).toHaveBeenCalledTimes(1);
    await expect(writer.add(vital())).rejects.toBeInstanceOf(WriterClosedError);
    await writer.close();
  });

  it('writes every vital exactly once whatever the mix of sizes, limits and failures', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 60 }),
        fc.array(fc.boolean(), { minLength: 30, maxLength: 30 }),
        async (batchSize, extraRoom, concurrency, count, failures) => {
          const writtenIds: string[] = [];
          let call = 0;
          const writer = new VitalsWriter(db, {
            batchSize,
            maxPending: batchSize * (1 + extraRoom),
            concurrency,
            flushIntervalMs: 1,
            insert: async (_db, vitals) => {
              await tick();
              if (failures[call++ % failures.length]) throw new Error('nope');
              writtenIds.push(...vitals.map((v) => v.id));
              return vitals.length;
            },
          });
          const batch = Array.from({ length: count }, () => vital());
          const results = await Promise.allSettled(batch.map((v) => writer.add(v)));
          await writer.close();
          const resolvedIds = batch.filter((_, i) => results[i]!.status === 'fulfilled').map((v) => v.id);
          // Resolved means written; rejected means not written; nothing twice.
          expect([...writtenIds].sort()).toEqual([...resolvedIds].sort());
          expect(writer.stats).toMatchObject({ pending: 0, waiting: 0, written: resolvedIds.length });
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('unstorableReason', () => {
  it('accepts a normal vital and names the field the database would refuse', () => {
    expect(unstorableReason(vital())).toBeUndefined();
    expect(unstorableReason(vital({ ts: -1 }))).toMatch(/ts/);
    expect(unstorableReason(vital({ ts: 1.5 }))).toMatch(/ts/);
    expect(unstorableReason(vital({ ts: 253_402_300_800_000 }))).toMatch(/ts/);
    expect(unstorableReason(vital({ retries: 0.5 }))).toMatch(/retries/);
    expect(unstorableReason(vital({ total_tokens: 3_000_000_000 }))).toMatch(/total_tokens/);
    expect(unstorableReason({ ...vital(), success: 'yes' } as unknown as Vital)).toMatch(/success/);
    expect(unstorableReason({ ...vital(), agent_id: undefined } as unknown as Vital)).toMatch(/agent_id/);
    expect(unstorableReason({ ...vital(), ttft_ms: '3' } as unknown as Vital)).toMatch(/ttft_ms/);
    expect(unstorableReason({ ...vital(), cost: null } as unknown as Vital)).toMatch(/cost/);
    expect(unstorableReason({ ...vital(), latency_ms: '1' } as unknown as Vital)).toMatch(/latency_ms/);
  });
});
