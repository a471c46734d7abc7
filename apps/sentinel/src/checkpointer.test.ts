import { AgentTriage, triageConfig } from '@immune/core';
import type { SentinelCheckpoint } from '@immune/store';
import { describe, expect, it } from 'vitest';
import { normalVital, rng } from '../test/fixtures.js';
import { Checkpointer } from './checkpointer.js';

const AGENTS = 200;

function fleet(): AgentTriage {
  const triage = new AgentTriage(triageConfig());
  const random = rng(7);
  for (let a = 0; a < AGENTS; a++) triage.observe(normalVital(`agent-${a}`, 1_000 + a, random));
  return triage;
}

/** Runs one checkpoint and counts the event-loop turns other work got while it ran. */
async function checkpointWith(workClock: () => number) {
  const saved: SentinelCheckpoint[] = [];
  const checkpointer = new Checkpointer({
    triage: fleet(),
    save: async (rows) => void saved.push(...rows),
    saveBaselines: async () => undefined,
    partitionOf: () => 0,
    pendingEffects: () => undefined,
    abandoned: new Set(),
    now: () => 5_000,
    workClock,
  });
  let turns = 0;
  let running = true;
  const other = () => {
    if (!running) return;
    turns++;
    setImmediate(other);
  };
  setImmediate(other);
  await checkpointer.run();
  running = false;
  return { turns, saved: saved.length };
}

describe('Checkpointer', () => {
  it('gives the event loop back by the time the snapshots took, not by how many there were', async () => {
    // Each reading of the clock is 1 ms later: as if every snapshot took 1 ms (a slow detector, a loaded
    // machine); the event loop must get a turn every few of them.
    let t = 0;
    const slow = await checkpointWith(() => ++t);
    expect(slow.saved).toBe(AGENTS);
    expect(slow.turns).toBeGreaterThanOrEqual(AGENTS / 8);

    // Snapshots that take no time at all: the whole checkpoint is one slice.
    const fast = await checkpointWith(() => 0);
    expect(fast.saved).toBe(AGENTS);
    expect(fast.turns).toBe(0);
  });
});
