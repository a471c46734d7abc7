import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FleetCorrelator, UPSTREAM_SYMPTOMS } from './correlator.js';
import { seededRandom } from './testing.js';

describe('FleetCorrelator', () => {
  it('flags the same anomaly across many agents at once as external', () => {
    const correlator = new FleetCorrelator({ windowMs: 60_000, minAgents: 5, minFraction: 0.2 });
    for (let i = 0; i < 39; i++) correlator.observe(`agent-${i}`, 'latency_spike', 1000 + i * 100);
    expect(correlator.assess('latency_spike', 5000, 200)).toEqual({
      correlated: false,
      agents: 39,
      fraction: 0.195,
    });
    correlator.observe('agent-39', 'latency_spike', 5000);
    expect(correlator.assess('latency_spike', 5000, 200)).toMatchObject({ correlated: true, agents: 40 });
    // Another type is counted apart.
    expect(correlator.assess('error_rate_spike', 5000, 200).correlated).toBe(false);
  });

  it('forgets sightings older than the window', () => {
    const correlator = new FleetCorrelator({ windowMs: 1000, minAgents: 2, minFraction: 0.1 });
    correlator.observe('a', 'tool_explosion', 0);
    correlator.observe('b', 'tool_explosion', 500);
    expect(correlator.assess('tool_explosion', 900, 10).correlated).toBe(true);
    expect(correlator.assess('tool_explosion', 1200, 10)).toMatchObject({ correlated: false, agents: 1 });
    expect(correlator.agentsWith('tool_explosion')).toEqual(['b']);
  });

  it('handles sightings that arrive out of time order', () => {
    const correlator = new FleetCorrelator({ windowMs: 1000, minAgents: 2, minFraction: 0.1 });
    correlator.observe('late', 'cost_spike', 5000);
    correlator.observe('early', 'cost_spike', 100);
    correlator.observe('mid', 'cost_spike', 4500);
    expect(correlator.assess('cost_spike', 5200, 10)).toMatchObject({ agents: 2, correlated: true });
    expect(correlator.agentsWith('cost_spike').sort()).toEqual(['late', 'mid']);
  });

  it('never treats one noisy agent as a fleet', () => {
    const correlator = new FleetCorrelator({ windowMs: 60_000, minAgents: 3, minFraction: 0.1 });
    for (let i = 0; i < 1000; i++) correlator.observe('noisy', 'latency_spike', i);
    expect(correlator.assess('latency_spike', 1000, 5)).toMatchObject({ correlated: false, agents: 1 });
  });

  it('counts only what a failing upstream causes as upstream symptoms', () => {
    expect([...UPSTREAM_SYMPTOMS].sort()).toEqual(['error_rate_spike', 'high_retry_rate', 'latency_spike']);
  });

  it('does not flag independent noise across the fleet', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 10, max: 400 }),
        fc.double({ min: 0, max: 0.02, noNaN: true }),
        fc.integer(),
        (fleetSize, perWindowRate, seed) => {
          // Each agent independently has a false positive with probability `perWindowRate` per window,
          // at a uniformly random time: the detector's noise floor, not a shared cause.
          const random = seededRandom(seed);
          const windowMs = 60_000;
          const correlator = new FleetCorrelator({ windowMs, minAgents: 5, minFraction: 0.2 });
          const horizon = 20 * windowMs;
          const events: Array<{ agent: string; ts: number }> = [];
          for (let agent = 0; agent < fleetSize; agent++) {
            for (let w = 0; w < 20; w++) {
              if (random() < perWindowRate)
                events.push({ agent: `a${agent}`, ts: w * windowMs + random() * windowMs });
            }
          }
          events.sort((a, b) => a.ts - b.ts);
          for (const event of events) {
            correlator.observe(event.agent, 'latency_spike', event.ts);
            expect(correlator.assess('latency_spike', event.ts, fleetSize).correlated).toBe(false);
          }
          expect(correlator.assess('latency_spike', horizon, fleetSize).correlated).toBe(false);
        },
      ),
      // A fixed seed: this property is statistical. Independent noise can, rarely, really put 5 of 14 agents
      // into one minute (fast-check once found such a fleet), and then "correlated" is the right verdict.
      { numRuns: 200, seed: 20261124 },
    );
  });
});
