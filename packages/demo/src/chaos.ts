import type { HealingActionType } from '@immune/core';
import type { Misbehaviour } from '@immune/mock-upstream';
import type { AgentFault, DemoAgent } from './fleet.js';

/** A fault is either the provider misbehaving for one agent (set in the mock) or the agent itself going wrong. */
export type Fault = { provider: Misbehaviour } | { agent: AgentFault };

export interface Injection {
  /** Seconds after the chaos starts (each cycle restarts the clock). */
  at: number;
  /** Which agent, by index in the fleet; the outage uses `share` instead. */
  agent?: number;
  /** A fleet-wide fault: this share of the fleet at once. */
  share?: number;
  fault: Fault;
  /** It ends by itself after this long if no cure came first, s. */
  lastsS: number;
  /** What the story says, e.g. "token explosion". */
  label: string;
}

/**
 * Every anomaly type once per cycle, one agent at a time after the fleet's baselines are learned, then a
 * provider outage across 40 % of the fleet, which must be classified as external and quarantine nobody.
 */
export const DEFAULT_SCHEDULE: readonly Injection[] = [
  {
    at: 45,
    agent: 0,
    fault: { provider: 'huge_output' },
    lastsS: 120,
    label: 'token explosion (huge outputs)',
  },
  { at: 70, agent: 1, fault: { provider: 'slow' }, lastsS: 90, label: 'latency spike' },
  { at: 95, agent: 2, fault: { provider: 'tool_storm' }, lastsS: 120, label: 'tool-call explosion' },
  {
    at: 120,
    agent: 3,
    fault: { agent: 'prompt_change' },
    lastsS: 120,
    label: 'prompt drift (system prompt changed)',
  },
  { at: 145, agent: 5, fault: { provider: 'errors' }, lastsS: 90, label: 'error burst' },
  { at: 170, agent: 6, fault: { agent: 'retry_storm' }, lastsS: 90, label: 'retry storm' },
  { at: 195, agent: 7, fault: { agent: 'tool_loop' }, lastsS: 90, label: 'tool-call loop' },
  { at: 220, agent: 9, fault: { agent: 'context_bloat' }, lastsS: 90, label: 'input-token spike' },
  { at: 250, share: 0.4, fault: { provider: 'outage' }, lastsS: 40, label: 'provider outage' },
];

/** One cycle of the schedule, s; the next cycle picks other agents. */
export const CYCLE_S = 320;

/** Which cures really end which fault: a wrong cure leaves it in place, so the healer must escalate. */
const CURES: Record<string, readonly HealingActionType[]> = {
  huge_output: ['cap_max_tokens', 'restart'],
  slow: ['reroute_provider', 'downgrade_model', 'wait_for_recovery'],
  tool_storm: ['strip_tools', 'allowlist_tools', 'restart'],
  errors: ['reroute_provider', 'wait_for_recovery', 'restart'],
  outage: ['wait_for_recovery', 'reroute_provider'],
  rate_limited: ['throttle', 'wait_for_recovery'],
  prompt_change: ['rollback_prompt', 'restart'],
  retry_storm: ['throttle', 'restart', 'reset_memory'],
  tool_loop: ['reset_memory', 'restart'],
  context_bloat: ['reset_memory', 'restart'],
};

export interface ProviderControl {
  setBehaviour(agentId: string, behaviour: Misbehaviour | undefined): void;
}

interface Active {
  injection: Injection;
  agents: DemoAgent[];
  timer: NodeJS.Timeout;
}

/**
 * Runs the chaos schedule against a fleet: starts each fault on time, ends it when a cure that fits arrives
 * (`cure`, called by the healer's simulated executor) or when it has lasted long enough.
 */
export class Chaos {
  private readonly active = new Map<string, Active>();
  private readonly timers: NodeJS.Timeout[] = [];
  private cycle = 0;
  private stopped = false;

  constructor(
    private readonly fleet: readonly DemoAgent[],
    private readonly provider: ProviderControl,
    private readonly say: (line: string) => void,
    private readonly schedule: readonly Injection[] = DEFAULT_SCHEDULE,
  ) {}

  start(): void {
    this.runCycle();
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    for (const agentId of [...this.active.keys()]) this.end(agentId, 'demo stopped');
  }

  /** The fault currently injected into an agent, if any. */
  faultOf(agentId: string): Fault | undefined {
    return this.active.get(agentId)?.injection.fault;
  }

  /**
   * A healing action reached the agent. Returns whether it cured the fault: the simulated executor reports
   * that as the action's outcome, and probation then checks it on fresh vitals.
   */
  cure(agentId: string, action: HealingActionType): boolean {
    const active = this.active.get(agentId);
    if (!active) return true;
    const fault = active.injection.fault;
    const name = 'provider' in fault ? fault.provider : fault.agent;
    if (!CURES[name]?.includes(action)) return false;
    this.end(agentId, `cured by ${action.replaceAll('_', ' ')}`);
    return true;
  }

  /** Injects a fault into one agent now, outside the schedule (tests, and an operator poking the demo). */
  injectNow(agentId: string, fault: Fault, lastsS: number, label: string): void {
    const agent = this.fleet.find((candidate) => candidate.id === agentId);
    if (!agent) throw new RangeError(`no demo agent '${agentId}'`);
    this.start1(agent, { at: 0, fault, lastsS, label });
  }

  private runCycle(): void {
    if (this.stopped) return;
    const cycle = this.cycle++;
    for (const injection of this.schedule) {
      this.timers.push(setTimeout(() => this.inject(injection, cycle), injection.at * 1000));
    }
    this.timers.push(setTimeout(() => this.runCycle(), CYCLE_S * 1000));
  }

  private inject(injection: Injection, cycle: number): void {
    if (this.stopped || this.fleet.length === 0) return;
    const free =
      injection.share !== undefined
        ? this.fleetShare(injection.share, cycle)
        : [this.fleet[(injection.agent! + cycle * 4) % this.fleet.length]!].filter(
            (agent) => !this.active.has(agent.id),
          );
    if (free.length === 0) return;
    const names = free.length > 3 ? `${free.length} agents` : free.map((a) => a.id).join(', ');
    this.say(`chaos        ${injection.label} → ${names}`);
    for (const agent of free) this.start1(agent, injection, false);
  }

  /**
   * `share` of the fleet for a fleet-wide fault, every other agent from a start that moves each cycle, skipping
   * agents already under a fault: skipping without picking another would leave the outage on fewer agents than
   * the share (4 of 12 instead of 5), below the fleet correlator's minimum, and it would quarantine them.
   */
  private fleetShare(share: number, cycle: number): DemoAgent[] {
    const count = Math.max(1, Math.round(this.fleet.length * share));
    const n = this.fleet.length;
    // Every other agent first (as before), then any agent, so a busy one is replaced by a free one.
    const order = [...Array.from({ length: n }, (_, i) => this.fleet[(i * 2 + cycle) % n]!), ...this.fleet];
    const picked: DemoAgent[] = [];
    for (const agent of order) {
      if (picked.length === count) break;
      if (!this.active.has(agent.id) && !picked.includes(agent)) picked.push(agent);
    }
    return picked;
  }

  private start1(agent: DemoAgent, injection: Injection, announce = true): void {
    if (announce) this.say(`chaos        ${injection.label} → ${agent.id}`);
    if ('provider' in injection.fault) this.provider.setBehaviour(agent.id, injection.fault.provider);
    else agent.setFault(injection.fault.agent);
    const timer = setTimeout(() => this.end(agent.id, 'fault over'), injection.lastsS * 1000);
    timer.unref();
    this.active.set(agent.id, { injection, agents: [agent], timer });
  }

  private end(agentId: string, why: string): void {
    const active = this.active.get(agentId);
    if (!active) return;
    clearTimeout(active.timer);
    this.active.delete(agentId);
    for (const agent of active.agents) {
      if ('provider' in active.injection.fault) this.provider.setBehaviour(agent.id, undefined);
      else agent.setFault(undefined);
    }
    if (active.injection.share === undefined) this.say(`chaos        ${agentId}: ${why}`);
  }
}
