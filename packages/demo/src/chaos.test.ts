import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Chaos, type Injection } from './chaos.js';
import { createFleet } from './fleet.js';

describe('Chaos', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const setup = (schedule: Injection[]) => {
    const fleet = createFleet({ baseURL: 'http://127.0.0.1:9/v1', size: 12 });
    const behaviours = new Map<string, string>();
    const lines: string[] = [];
    const chaos = new Chaos(
      fleet,
      { setBehaviour: (agent, b) => (b === undefined ? behaviours.delete(agent) : behaviours.set(agent, b)) },
      (line) => lines.push(line),
      schedule,
    );
    return { fleet, behaviours, lines, chaos };
  };

  it('injects on time, leaves the fault in place under a wrong cure, ends it with a right one', () => {
    const { fleet, behaviours, chaos } = setup([
      { at: 10, agent: 0, fault: { provider: 'huge_output' }, lastsS: 100, label: 'token explosion' },
    ]);
    chaos.start();
    vi.advanceTimersByTime(9_000);
    expect(behaviours.size).toBe(0);
    vi.advanceTimersByTime(1_000);
    expect(behaviours.get(fleet[0]!.id)).toBe('huge_output');
    expect(chaos.cure(fleet[0]!.id, 'rollback_prompt')).toBe(false);
    expect(behaviours.get(fleet[0]!.id)).toBe('huge_output');
    expect(chaos.cure(fleet[0]!.id, 'cap_max_tokens')).toBe(true);
    expect(behaviours.size).toBe(0);
    chaos.stop();
  });

  it('sets agent-side faults on the agent and ends them when they have lasted long enough', () => {
    const { fleet, chaos } = setup([
      { at: 1, agent: 3, fault: { agent: 'prompt_change' }, lastsS: 5, label: 'prompt drift' },
    ]);
    chaos.start();
    vi.advanceTimersByTime(1_000);
    expect(fleet[3]!.currentFault).toBe('prompt_change');
    vi.advanceTimersByTime(5_000);
    expect(fleet[3]!.currentFault).toBeUndefined();
    chaos.stop();
  });

  it('takes a share of the fleet down at once for an outage', () => {
    const { behaviours, chaos } = setup([
      { at: 1, share: 0.4, fault: { provider: 'outage' }, lastsS: 5, label: 'provider outage' },
    ]);
    chaos.start();
    vi.advanceTimersByTime(1_000);
    expect(behaviours.size).toBe(Math.round(12 * 0.4));
    vi.advanceTimersByTime(5_000);
    expect(behaviours.size).toBe(0);
    chaos.stop();
  });

  it('takes the whole share for an outage when some of its agents are already sick, sparing those', () => {
    const { fleet, behaviours, chaos } = setup([
      { at: 1, agent: 0, fault: { provider: 'huge_output' }, lastsS: 100, label: 'token explosion' },
      { at: 2, share: 0.4, fault: { provider: 'outage' }, lastsS: 5, label: 'provider outage' },
    ]);
    chaos.start();
    vi.advanceTimersByTime(2_000);
    // Fewer than the share would fall below the fleet correlator's minimum (5 agents) and be quarantined.
    const outage = [...behaviours].filter(([, behaviour]) => behaviour === 'outage');
    expect(outage).toHaveLength(Math.round(12 * 0.4));
    expect(behaviours.get(fleet[0]!.id)).toBe('huge_output');
    chaos.stop();
  });
});
