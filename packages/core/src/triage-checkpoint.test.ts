import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { base64ToBytes, bytesToBase64 } from './base64.js';
import { AgentTriage } from './triage.js';
import { type AgentTriageSnapshot, CheckpointMismatchError, PACKED_LAYOUT } from './triage-checkpoint.js';
import { triageConfig } from './triage-config.js';
import { triageView } from './triage-view.js';
import type { Vital, VitalKind } from './vital.js';

const RUNS = { numRuns: 60, seed: 1313 };
const config = triageConfig({ fleetHoldMs: 500 });

/** One vital of an agent's traffic, `dt` ms after the previous one; `factor` scales its sizes. */
const step = fc.record({
  dt: fc.integer({ min: 1, max: 5_000 }),
  kind: fc.constantFrom<VitalKind>('llm', 'llm', 'llm', 'tool', 'task'),
  factor: fc.oneof(fc.constant(1), fc.double({ min: 0.5, max: 8, noNaN: true })),
  hash: fc.option(fc.constantFrom('r1', 'r2', 'r3'), { nil: undefined }),
  success: fc.integer({ min: 0, max: 9 }).map((n) => n > 0),
  retries: fc.integer({ min: 0, max: 2 }),
  seqGap: fc.integer({ min: 0, max: 3 }),
});

function vitalOf(
  agent: string,
  i: number,
  ts: number,
  s: fc.Arbitrary<unknown> extends never ? never : StepValue,
): Vital {
  const input = Math.round(700 * s.factor);
  const output = Math.round(300 * s.factor);
  return {
    id: `${agent}-${i}`,
    agent_id: agent,
    ts,
    source: 'gateway',
    kind: s.kind,
    latency_ms: 800 * s.factor,
    input_tokens: input,
    output_tokens: output,
    total_tokens: input + output,
    tool_calls: s.kind === 'tool' ? 1 : 0,
    retries: s.retries,
    cost: (input + output) * 1e-6,
    success: s.success,
    prompt_hash: 'p1',
    ...(s.hash === undefined ? {} : { request_hash: s.hash }),
    ...(s.kind === 'tool' ? { tool_name: 'search' } : {}),
  };
}
type StepValue = {
  dt: number;
  kind: VitalKind;
  factor: number;
  hash: string | undefined;
  success: boolean;
  retries: number;
  seqGap: number;
};

/** Drives one agent through `steps` (with ticks, so timers move it too); returns the triage and the time. */
function drive(steps: readonly StepValue[]): { triage: AgentTriage; vitals: Vital[]; t: number } {
  const triage = new AgentTriage(config);
  const vitals: Vital[] = [];
  let t = 1_000_000;
  let seq = 0;
  steps.forEach((s, i) => {
    t += s.dt;
    seq += s.seqGap;
    const v = vitalOf('a', i, t, s);
    vitals.push(v);
    triage.observe(v, s.seqGap > 0 ? seq : undefined);
    triage.tick(t);
  });
  return { triage, vitals, t };
}

function packedWith(snapshot: AgentTriageSnapshot, edit: (bytes: Uint8Array) => Uint8Array): string {
  const bytes = base64ToBytes(snapshot.packed, 'test');
  const edited = edit(bytes);
  return bytesToBase64(edited, edited.length);
}

describe('triage checkpoints', () => {
  it('round-trip through JSON: the restored agent snapshots the same and decides the same', () => {
    fc.assert(
      fc.property(
        fc.array(step, { minLength: 1, maxLength: 80 }),
        fc.array(step, { minLength: 1, maxLength: 20 }),
        (before, after) => {
          const { triage, vitals, t } = drive(before);
          const snapshot = triage.snapshot('a')!;
          const copy = new AgentTriage(config);
          copy.restore(JSON.parse(JSON.stringify(snapshot)));
          expect(copy.snapshot('a')).toEqual(snapshot);
          expect(copy.lifecycleOf('a')).toEqual(triage.lifecycleOf('a'));
          // A redelivery of the last vital is known to both; what follows is judged alike.
          expect(copy.observe(vitals.at(-1)!)).toEqual(triage.observe(vitals.at(-1)!));
          let now = t;
          after.forEach((s, i) => {
            now += s.dt;
            const v = vitalOf('a', before.length + i, now, s);
            const strip = (ds: ReturnType<AgentTriage['observe']>) =>
              ds.map((d) =>
                d.kind === 'infection' ? { ...d, report: { ...d.report, recent_vitals: [] } } : d,
              );
            expect(strip(copy.observe(v))).toEqual(strip(triage.observe(v)));
            expect(copy.tick(now)).toEqual(triage.tick(now));
          });
          expect(copy.snapshot('a')).toEqual(triage.snapshot('a'));
        },
      ),
      RUNS,
    );
  });

  /** A warm agent on probation, with evidence, dedupe ids and a repetition ring: every part is present. */
  function fullSnapshot(): AgentTriageSnapshot {
    const steps: StepValue[] = Array.from({ length: 30 }, (_, i) => ({
      dt: 1_000,
      kind: i % 5 === 4 ? 'tool' : 'llm',
      factor: 1 + (i % 3) * 0.01,
      hash: `r${i % 4}`,
      success: true,
      retries: 0,
      seqGap: 1,
    }));
    const snapshot = drive(steps).triage.snapshot('a')!;
    expect(snapshot.detectors.llm).toBeDefined();
    return snapshot;
  }

  const refused = (snapshot: unknown, message: RegExp) => {
    const triage = new AgentTriage(config);
    const held = fullSnapshot();
    triage.restore(held);
    const error = (() => {
      try {
        triage.restore(snapshot as AgentTriageSnapshot);
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(CheckpointMismatchError);
    expect((error as Error).message).toMatch(/^triage checkpoint of agent 'a' does not match this build: /);
    expect((error as Error).message).toMatch(message);
    // Refused whole: what was held for the agent is untouched.
    expect(triage.snapshot('a')).toEqual(held);
  };

  it('refuses a packed state of another layout, naming the layout it expects', () => {
    const snapshot = fullSnapshot();
    const packed = packedWith(snapshot, (bytes) => {
      const copy = bytes.slice();
      copy[0] = copy[0]! ^ 0xff;
      return copy;
    });
    refused(
      { ...snapshot, packed },
      new RegExp(`packed layout \\d+ is not this build's \\(\\d+: ${PACKED_LAYOUT.slice(0, 20)}`),
    );
  });

  it('refuses a packed state longer or shorter than its layout reads', () => {
    const snapshot = fullSnapshot();
    refused(
      { ...snapshot, packed: packedWith(snapshot, (b) => b.slice(0, b.length - 8)) },
      /holds \d+ bytes, its layout \d+/,
    );
    const longer = packedWith(snapshot, (b) => Uint8Array.from([...b, 0, 0, 0, 0, 0, 0, 0, 0]));
    refused({ ...snapshot, packed: longer }, /holds \d+ bytes, its layout \d+/);
    refused({ ...snapshot, packed: 'AQ==' }, /packed layout undefined/);
  });

  it('refuses a detector of another metric layout', () => {
    const snapshot = fullSnapshot();
    const llm = snapshot.detectors.llm!;
    refused(
      { ...snapshot, detectors: { ...snapshot.detectors, llm: { ...llm, layout: llm.layout + 1 } } },
      /llm detector snapshot: version 3, layout \d+ is not this build's/,
    );
  });

  it('refuses an older document version and a document missing a field', () => {
    const snapshot = fullSnapshot();
    refused({ ...snapshot, v: 1 }, /version 1, not 2/);
    const { stream_seq: _, ...missing } = snapshot;
    refused(missing, /stream_seq/);
  });

  it('the dashboard view refuses a mismatched checkpoint too', () => {
    const snapshot = fullSnapshot();
    const packed = packedWith(snapshot, (b) => b.slice(0, 4 + 8));
    expect(() => triageView({ ...snapshot, state: 'PROBATION', packed }, config)).toThrow(
      CheckpointMismatchError,
    );
  });
});
