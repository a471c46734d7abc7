import { AgentTriage, JUDGEMENT_LENGTH, type Vital } from '@immune/core';
import { captureLogs } from '@immune/runtime/testing';
import type { SigmaBucket } from '@immune/store';
import { describe, expect, it } from 'vitest';
import { SigmaHistory } from './sigma-history.js';

const WIDTH = 10_000;
const T0 = 1_700_000_000_000;

const vital = (agent: string, ts: number, over: Partial<Vital> = {}): Vital => ({
  id: `${agent}-${ts}`,
  agent_id: agent,
  ts,
  source: 'gateway',
  kind: 'llm',
  latency_ms: 800,
  input_tokens: 700,
  output_tokens: 300,
  total_tokens: 1000,
  tool_calls: 0,
  retries: 0,
  cost: 0.001,
  success: true,
  ...over,
});

/** A judgement with only latency judged, at `sigma`, its baseline at `mean` on the judged (log) scale. */
function judgement(sigma: number, mean = Math.log(800)): Float64Array {
  const out = new Float64Array(JUDGEMENT_LENGTH).fill(Number.NaN);
  // latency_ms is the fourth baseline metric; four numbers each: σ, mean, sd, threshold.
  out.set([sigma, mean, 0.1, 3], 3 * 4);
  return out;
}

function history(save: (rows: SigmaBucket[]) => Promise<unknown>, maxBuckets = 100) {
  const logs = captureLogs();
  const writer = new SigmaHistory({
    bucketMs: WIDTH,
    flushMs: 60_000,
    maxBuckets,
    save,
    logger: logs.logger,
  });
  return { writer, logs };
}

describe('SigmaHistory', () => {
  it('keeps the worst σ and the latest band per agent, kind and bucket, one row per judged metric', async () => {
    const batches: SigmaBucket[][] = [];
    const { writer } = history(async (rows) => void batches.push(rows));
    writer.record(vital('a', T0 + 1_000), judgement(1));
    writer.record(vital('a', T0 + 3_000), judgement(4, Math.log(900)));
    writer.record(vital('a', T0 + 2_000), judgement(2, Math.log(700))); // late: not the band
    writer.record(vital('a', T0 + 2_500, { kind: 'tool' }), judgement(0.5));
    writer.record(vital('b', T0 + WIDTH + 1), judgement(-1));
    writer.record(vital('b', T0 + WIDTH + 2), new Float64Array(JUDGEMENT_LENGTH).fill(Number.NaN));
    expect(writer.size).toBe(3);
    await writer.flush();
    expect(batches).toHaveLength(1);
    const rows = batches[0]!;
    expect(rows.map((r) => [r.agent_id, r.kind, r.metric, r.bucket_start, r.worst_sigma, r.samples])).toEqual(
      [
        ['a', 'llm', 'latency_ms', T0, 4, 3],
        ['a', 'tool', 'latency_ms', T0, 0.5, 1],
        ['b', 'llm', 'latency_ms', T0 + WIDTH, -1, 1],
      ],
    );
    // The band of the latest vital, in milliseconds (core's unit band on the log scale).
    expect(rows[0]!.typical).toBeCloseTo(900, 6);
    expect(rows[0]!.high).toBeCloseTo(900 * Math.exp(0.3), 6);
    expect(rows[0]!.low).toBeCloseTo(900 * Math.exp(-0.3), 6);
    expect(rows[0]!.last_ts).toBe(T0 + 3_000);
    expect(writer.size).toBe(0);
    await writer.flush();
    expect(batches).toHaveLength(1); // nothing held, nothing written
  });

  it('holds the history while the store fails, bounded, warns once and says once when it is back', async () => {
    let up = false;
    const batches: SigmaBucket[][] = [];
    const { writer, logs } = history(async (rows) => {
      if (!up) throw new Error('connection refused');
      batches.push(rows);
    }, 3);
    for (let i = 0; i < 5; i++) writer.record(vital('a', T0 + i * WIDTH), judgement(i));
    await writer.flush();
    await writer.flush();
    // Five buckets for a bound of three: the two oldest are gone, and counted.
    expect(writer.size).toBe(3);
    expect(writer.dropped).toBe(2);
    // Judging goes on meanwhile: a held bucket is not written to again, a new one (merged by the store) opens.
    writer.record(vital('a', T0 + 4 * WIDTH + 1), judgement(9));
    expect(writer.size).toBe(3);
    expect(writer.dropped).toBe(3);
    const events = (name: string) => logs.entries().filter((entry) => entry.event === name);
    expect(events('sigma-history-unwritten')).toHaveLength(1);
    up = true;
    await writer.flush();
    expect(events('sigma-history-restored')).toHaveLength(1);
    expect(events('sigma-history-unwritten')).toHaveLength(1);
    expect(batches[0]!.map((r) => [r.bucket_start, r.worst_sigma, r.samples])).toEqual([
      [T0 + 3 * WIDTH, 3, 1],
      [T0 + 4 * WIDTH, 4, 1],
      [T0 + 4 * WIDTH, 9, 1],
    ]);
  });

  it('opens a written bucket again empty: nothing of the last flush leaks into the next', async () => {
    const batches: SigmaBucket[][] = [];
    const { writer } = history(async (rows) => void batches.push(rows));
    writer.record(vital('a', T0), judgement(7, Math.log(2_000)));
    writer.record(vital('a', T0 + 1), judgement(6, Math.log(2_000)));
    await writer.flush();
    writer.record(vital('b', T0 + WIDTH), judgement(0.5));
    await writer.flush();
    expect(batches[1]!.map((r) => [r.agent_id, r.bucket_start, r.worst_sigma, r.samples, r.last_ts])).toEqual(
      [['b', T0 + WIDTH, 0.5, 1, T0 + WIDTH]],
    );
    expect(batches[1]![0]!.typical).toBeCloseTo(800, 6);
  });

  it('records from what the triage judged, the vital that relapsed on probation included', () => {
    const triage = new AgentTriage();
    const batches: SigmaBucket[][] = [];
    const { writer } = history(async (rows) => void batches.push(rows));
    for (let i = 0; i < 20; i++) {
      const v = vital('a', T0 + i * 1_000, { latency_ms: 800 + (i % 5) * 10, id: `v${i}` });
      triage.observe(v);
      writer.record(v, triage.judgement);
    }
    // Warm-up (15 vitals by default) is not judged: only the last five count.
    return writer.flush().then(() => {
      const latency = batches[0]!.filter((r) => r.metric === 'latency_ms');
      expect(latency.reduce((sum, r) => sum + r.samples, 0)).toBe(5);
      expect(latency.every((r) => r.low < r.typical && r.typical < r.high)).toBe(true);
    });
  });
});
