import { FleetJudge, type JudgeOptions, judgeConfig } from '@immune/cli';
import { type AnomalyType, isBlocked, type LifecycleTransition, type Vital } from '@immune/core';
import {
  CELLS,
  type InjectionCell,
  type InjectionKind,
  injectedRate,
  metricShift,
  type Shift,
} from './injections.js';
import {
  type AgentModel,
  createAgent,
  moments,
  nextInterval,
  PROFILES,
  type Profile,
  sampleInput,
  sampleLatency,
  sampleOutput,
  samplePrompt,
} from './profiles.js';
import { Random } from './random.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** Simulated time starts at a fixed date so diurnal profiles line up the same way every run. */
const EPOCH = Date.UTC(2026, 0, 5);

export interface OutageOptions {
  /** Hours after the warm-up when the provider fails. */
  atHours: number;
  durationMinutes: number;
  /** Share of the fleet routed to the failing provider. */
  fraction: number;
  latencyFactor: number;
  errorRate: number;
}

export interface SimulationOptions {
  seed: number;
  agents: number;
  /** Simulated hours after the warm-up. */
  hours: number;
  warmupMinutes: number;
  /** Mean time between two injections into the same agent. */
  injectionEveryHours: number;
  /** An injection that has not got the agent drained after this many vitals (or minutes) is a miss. */
  injectionMaxVitals: number;
  injectionMaxMinutes: number;
  /** After an injection ends the agent's time counts neither as healthy nor as injected for this long. */
  cooldownMinutes: number;
  /** How long a quarantined agent stays out before the (simulated) operator releases it. */
  holdMinutes: number;
  outage: OutageOptions | undefined;
  judge: JudgeOptions;
}

export const DEFAULT_OUTAGE: OutageOptions = {
  atHours: 2,
  durationMinutes: 10,
  fraction: 0.4,
  latencyFactor: 6,
  errorRate: 0.4,
};

export interface InjectionOutcome {
  agent: string;
  /** When the injection started (simulated epoch ms). */
  startTs: number;
  kind: InjectionKind;
  sigma: number | undefined;
  profile: Profile;
  /** The agent left HEALTHY (suspected or drained) while the injection lasted. */
  detected: boolean;
  /** Draining ended in quarantine (rather than a fleet-wide explanation). */
  quarantined: boolean;
  /** One of the injected vitals was flagged with the anomaly type that was injected. */
  typeFlagged: boolean;
  /** The fleet correlator explained it away as an external cause. */
  external: boolean;
  /** Injected vitals the agent produced before the injection ended. */
  vitals: number;
  detectSamples: number | undefined;
  detectMs: number | undefined;
  /** The first soft containment entry (clamp and throttle while SUSPECTED) written while the injection lasted. */
  soft: Containment | undefined;
  /** The agent was drained: the gateway refuses its calls from here, and quarantine follows. */
  full: Containment | undefined;
}

/** When the gateway started to limit an injected agent (the sentinel's entry taken as enforced at once). */
export interface Containment {
  /** Injected calls served in full: up to and including the one whose vital (or timer) contained the agent. */
  calls: number;
  /** From the first injected call to the decision. */
  ms: number;
}

/** The earliest containment of an injection, soft or full. */
export function firstContainment(outcome: InjectionOutcome): Containment | undefined {
  const { soft, full } = outcome;
  if (soft === undefined || full === undefined) return soft ?? full;
  return full.ms < soft.ms ? full : soft;
}

export interface FalseQuarantine {
  agent: string;
  profile: Profile;
  ts: number;
  reason: string;
  /** The agent was hit by the outage, and this happened within the hour after it ended. */
  afterOutage: boolean;
}

export interface OutageOutcome {
  affected: number;
  /** Affected agents whose anomalies were classified fleet-wide at least once. */
  classifiedExternal: number;
  suspected: number;
  /** Affected agents the sentinel softly contained (clamped and throttled) at least once. */
  softContained: number;
  drained: number;
  quarantined: number;
  /** Agents outside the outage that were quarantined while it lasted. */
  bystandersQuarantined: number;
  /** Why each affected agent that was quarantined was drained (trigger: evidence). */
  quarantineReasons: string[];
}

export interface SimulationResult {
  seed: number;
  agents: number;
  vitals: number;
  simulatedHours: number;
  healthyAgentHours: number;
  falseQuarantines: FalseQuarantine[];
  falseSuspicions: number;
  /** Soft containment entries written for healthy agents (counted like false quarantines). */
  falseSoftContainments: number;
  /** Healthy agents drained, then released because the fleet explained it. */
  falseDrainsReleased: number;
  /** Quarantines in the cool-down after an injection: neither false nor a detection. */
  lingeringQuarantines: number;
  injections: InjectionOutcome[];
  outage: OutageOutcome | undefined;
  elapsedMs: number;
}

interface ActiveInjection {
  cell: InjectionCell;
  startTs: number;
  vitals: number;
  rate: number;
  promptHash: string;
  loopHash: string;
  outcome: InjectionOutcome;
}

interface SimAgent {
  model: AgentModel;
  nextTs: number;
  heapIndex: number;
  warmAt: number | undefined;
  quarantinedAt: number;
  injection: ActiveInjection | undefined;
  nextInjectionAt: number;
  /** Intervals [from, to) that count neither as healthy time nor towards false quarantines. */
  excluded: Array<[number, number]>;
  excludedUntil: number;
  inOutage: boolean;
  lastRequest: string;
  outageSeen: {
    external: boolean;
    suspected: boolean;
    softContained: boolean;
    drained: boolean;
    quarantined: boolean;
  };
  outageQuarantineReason: string | undefined;
}

const EXPECTED_TYPES: Record<InjectionKind, readonly AnomalyType[]> = {
  token_spike: ['token_spike'],
  input_token_spike: ['input_token_spike'],
  output_token_spike: ['output_token_spike'],
  latency_spike: ['latency_spike'],
  tool_explosion: ['tool_explosion'],
  cost_spike: ['cost_spike'],
  high_retry_rate: ['high_retry_rate'],
  error_rate_spike: ['error_rate_spike'],
  prompt_change: ['prompt_change'],
  tool_loop: ['tool_explosion', 'high_retry_rate'],
};

const NO_SHIFT: Shift = { input: 0, output: 0, latency: 0, tools: 0, cost: 0 };

/**
 * One seeded fleet, simulated call by call in time order through the decision path (`FleetJudge`), with
 * injections sprinkled over random agents at random times and, optionally, one provider outage.
 */
export function simulate(options: SimulationOptions): SimulationResult {
  const started = performance.now();
  const random = new Random(options.seed);
  const judge = new FleetJudge(judgeConfig(options.judge));
  const start = EPOCH + Math.floor(random.next() * 24) * HOUR;
  const countFrom = start + options.warmupMinutes * MINUTE;
  const end = countFrom + options.hours * HOUR;
  const holdMs = options.holdMinutes * MINUTE;
  const cooldownMs = options.cooldownMinutes * MINUTE;
  const outage = options.outage;
  const outageStart = outage ? countFrom + outage.atHours * HOUR : Number.POSITIVE_INFINITY;
  const outageEnd = outage ? outageStart + outage.durationMinutes * MINUTE : Number.NEGATIVE_INFINITY;
  // Affected agents are watched until their error windows have emptied after the outage.
  const outageWatchEnd = outageEnd + 10 * MINUTE;
  const pauseFrom = outageStart - 20 * MINUTE;
  const pauseTo = outageEnd + 20 * MINUTE;
  const injectionGapMs = options.injectionEveryHours * HOUR;

  const agents = new Map<string, SimAgent>();
  const heap: SimAgent[] = [];
  for (let i = 0; i < options.agents; i++) {
    const id = `agent-${options.seed}-${i}`;
    const model = createAgent(id, PROFILES[i % PROFILES.length]!, random);
    const agent: SimAgent = {
      model,
      nextTs: start + random.next() * 10_000,
      heapIndex: -1,
      warmAt: undefined,
      quarantinedAt: 0,
      injection: undefined,
      nextInjectionAt: countFrom + random.exponential(injectionGapMs),
      excluded: [],
      excludedUntil: 0,
      inOutage: outage !== undefined && random.chance(outage.fraction),
      lastRequest: '',
      outageSeen: {
        external: false,
        suspected: false,
        softContained: false,
        drained: false,
        quarantined: false,
      },
      outageQuarantineReason: undefined,
    };
    agents.set(id, agent);
    heapPush(heap, agent);
  }

  const result: SimulationResult = {
    seed: options.seed,
    agents: options.agents,
    vitals: 0,
    simulatedHours: options.hours,
    healthyAgentHours: 0,
    falseQuarantines: [],
    falseSuspicions: 0,
    falseSoftContainments: 0,
    falseDrainsReleased: 0,
    lingeringQuarantines: 0,
    injections: [],
    outage: undefined,
    elapsedMs: 0,
  };
  let cellCounter = random.int(CELLS.length);
  let requestCounter = 0;

  const inOutageWatch = (agent: SimAgent, ts: number) =>
    agent.inOutage && ts >= outageStart && ts < outageWatchEnd;

  const finishInjection = (agent: SimAgent, until: number) => {
    const injection = agent.injection!;
    result.injections.push(injection.outcome);
    agent.injection = undefined;
    agent.excludedUntil = until;
    agent.excluded.push([injection.startTs, until]);
    agent.nextInjectionAt = until + random.exponential(injectionGapMs);
  };

  // Why each agent was last drained, to say why a false quarantine happened.
  const drainReasons = new Map<string, string>();
  const onTransition = (t: LifecycleTransition) => {
    const agent = agents.get(t.agent_id)!;
    if (t.to === 'DRAINING') drainReasons.set(t.agent_id, `${t.trigger}: ${t.reason ?? ''}`);
    if (t.to === 'HEALTHY' && t.from === 'INITIALIZING') agent.warmAt = t.ts;
    if (t.to === 'QUARANTINED') agent.quarantinedAt = t.ts;
    const injection = agent.injection;
    if (injection) {
      const outcome = injection.outcome;
      if ((t.to === 'SUSPECTED' || t.to === 'DRAINING') && !outcome.detected) {
        outcome.detected = true;
        outcome.detectSamples = injection.vitals;
        outcome.detectMs = t.ts - injection.startTs;
      }
      if (t.to === 'DRAINING') {
        outcome.full = { calls: injection.vitals, ms: t.ts - injection.startTs };
      } else if (t.to === 'QUARANTINED') {
        outcome.quarantined = true;
        finishInjection(agent, t.ts + holdMs + cooldownMs);
      } else if (t.from === 'DRAINING' && t.to === 'HEALTHY') {
        outcome.external = true;
        finishInjection(agent, t.ts + cooldownMs);
      }
      return;
    }
    if (inOutageWatch(agent, t.ts)) {
      if (t.to === 'SUSPECTED') agent.outageSeen.suspected = true;
      if (t.to === 'DRAINING') agent.outageSeen.drained = true;
      if (t.to === 'QUARANTINED') {
        agent.outageSeen.quarantined = true;
        agent.outageQuarantineReason ??= drainReasons.get(t.agent_id) ?? '';
      }
      return;
    }
    if (t.ts < countFrom || t.ts < agent.excludedUntil) {
      if (t.to === 'QUARANTINED') result.lingeringQuarantines++;
      return;
    }
    if (t.to === 'SUSPECTED') result.falseSuspicions++;
    if (t.from === 'DRAINING' && t.to === 'HEALTHY') result.falseDrainsReleased++;
    if (t.to === 'QUARANTINED') {
      const reason = drainReasons.get(t.agent_id) ?? '';
      result.falseQuarantines.push({
        agent: t.agent_id,
        profile: agent.model.profile,
        ts: t.ts,
        reason,
        afterOutage: agent.inOutage && t.ts >= outageEnd && t.ts < outageEnd + HOUR,
      });
    }
  };

  // A soft entry for `agent` at `ts`: the injection's first containment, or a healthy agent clamped for nothing.
  const onSoftContainment = (agent: SimAgent, ts: number) => {
    const injection = agent.injection;
    if (injection) {
      injection.outcome.soft ??= { calls: injection.vitals, ms: ts - injection.startTs };
      return;
    }
    if (inOutageWatch(agent, ts)) agent.outageSeen.softContained = true;
    else if (ts >= countFrom && ts >= agent.excludedUntil) result.falseSoftContainments++;
  };

  while (heap.length > 0 && heap[0]!.nextTs < end) {
    const agent = heap[0]!;
    const now = Math.round(agent.nextTs);
    for (const t of judge.advance(now)) onTransition(t);
    const id = agent.model.id;
    let state = judge.state(id);
    if (state !== undefined && isBlocked(state)) {
      if (state === 'QUARANTINED' && now >= agent.quarantinedAt + holdMs) {
        const released = judge.release(id, now);
        if (released) onTransition(released);
        state = judge.state(id);
      } else {
        // A blocked agent's calls are refused at the gateway and produce no vitals; it tries again later.
        agent.nextTs = now + 5_000;
        heapFix(heap, 0);
        continue;
      }
    }

    let injection = agent.injection;
    if (
      injection &&
      injection.outcome.full === undefined &&
      (injection.vitals >= options.injectionMaxVitals ||
        now - injection.startTs >= options.injectionMaxMinutes * MINUTE)
    ) {
      finishInjection(agent, now + cooldownMs);
      injection = undefined;
    }
    if (
      !injection &&
      state === 'HEALTHY' &&
      now >= agent.nextInjectionAt &&
      now >= agent.excludedUntil &&
      (now < pauseFrom || now >= pauseTo) &&
      !(agent.inOutage && now >= outageStart && now < outageWatchEnd)
    ) {
      const cell = CELLS[cellCounter++ % CELLS.length]!;
      injection = {
        cell,
        startTs: now,
        vitals: 0,
        rate:
          cell.kind === 'error_rate_spike'
            ? injectedRate(agent.model.errorRate, cell.sigma!)
            : cell.kind === 'high_retry_rate'
              ? injectedRate(agent.model.retryRate, cell.sigma!)
              : 0,
        promptHash: `${id}-drifted-${now}`,
        loopHash: `${id}-loop-${now}`,
        outcome: {
          agent: id,
          startTs: now,
          kind: cell.kind,
          sigma: cell.sigma,
          profile: agent.model.profile,
          detected: false,
          quarantined: false,
          typeFlagged: false,
          vitals: 0,
          external: false,
          detectSamples: undefined,
          detectMs: undefined,
          soft: undefined,
          full: undefined,
        },
      };
      agent.injection = injection;
    }

    const outageNow = agent.inOutage && now >= outageStart && now < outageEnd;
    const vital = generateVital(agent, now, injection, outageNow ? outage : undefined);
    result.vitals++;
    if (injection) {
      injection.vitals++;
      injection.outcome.vitals = injection.vitals;
    }
    const decision = judge.observe(vital);
    if (injection && !injection.outcome.typeFlagged) {
      const expected = EXPECTED_TYPES[injection.cell.kind];
      injection.outcome.typeFlagged = decision.anomalies.some((a) => expected.includes(a.type));
    }
    if (decision.external.length > 0 && inOutageWatch(agent, now)) agent.outageSeen.external = true;
    if (decision.softContainment) onSoftContainment(agent, now);
    for (const t of decision.transitions) onTransition(t);

    agent.nextTs = now + Math.max(1, nextInterval(agent.model, now, random));
    heapFix(heap, 0);
  }
  for (const t of judge.finish()) onTransition(t);
  for (const agent of agents.values()) {
    if (agent.injection) finishInjection(agent, end);
    if (agent.inOutage) agent.excluded.push([outageStart, outageWatchEnd]);
    result.healthyAgentHours += healthyMs(agent, countFrom, end) / HOUR;
  }

  if (outage) {
    const affected = [...agents.values()].filter((a) => a.inOutage);
    result.outage = {
      affected: affected.length,
      classifiedExternal: affected.filter((a) => a.outageSeen.external).length,
      suspected: affected.filter((a) => a.outageSeen.suspected).length,
      softContained: affected.filter((a) => a.outageSeen.softContained).length,
      drained: affected.filter((a) => a.outageSeen.drained).length,
      quarantined: affected.filter((a) => a.outageSeen.quarantined).length,
      bystandersQuarantined: result.falseQuarantines.filter(
        (q) => q.ts >= outageStart && q.ts < outageWatchEnd,
      ).length,
      quarantineReasons: affected.flatMap((a) =>
        a.outageQuarantineReason === undefined ? [] : [a.outageQuarantineReason],
      ),
    };
  }
  result.elapsedMs = performance.now() - started;
  return result;

  function generateVital(
    agent: SimAgent,
    now: number,
    injection: ActiveInjection | undefined,
    outageNow: OutageOptions | undefined,
  ): Vital {
    const model = agent.model;
    const kind = injection?.cell.kind;
    const shift =
      injection?.cell.sigma !== undefined
        ? metricShift(kind!, injection.cell.sigma, moments(model, now))
        : NO_SHIFT;
    const failRate = kind === 'error_rate_spike' ? injection!.rate : model.errorRate;
    const retryRate = kind === 'high_retry_rate' ? injection!.rate : model.retryRate;
    const failed = random.chance(failRate) || (outageNow !== undefined && random.chance(outageNow.errorRate));
    const retried = random.chance(retryRate);

    let input = sampleInput(model, now, random);
    let output = sampleOutput(model, random);
    let tools = random.poisson(model.toolLambda);
    input = Math.round(input + shift.input);
    output = Math.round(output + shift.output);
    tools += shift.tools;
    let latency = sampleLatency(model, output, now, random) + shift.latency;
    if (outageNow) latency *= outageNow.latencyFactor * (0.8 + 0.4 * random.next());
    let cost = model.priceIn * input + model.priceOut * output + shift.cost;

    let request: string;
    if (kind === 'tool_loop') {
      request = injection!.loopHash;
      tools = Math.max(tools, 1);
    } else if (retried && agent.lastRequest !== '') {
      request = agent.lastRequest;
    } else {
      request = `r${requestCounter++}`;
    }
    agent.lastRequest = request;
    if (failed) {
      input = 0;
      output = 0;
      tools = 0;
      cost = 0;
    }
    return {
      id: `v${result.vitals}`,
      agent_id: model.id,
      ts: now,
      source: 'gateway',
      kind: 'llm',
      model: 'sim-model',
      latency_ms: latency,
      input_tokens: input,
      output_tokens: output,
      total_tokens: input + output,
      tool_calls: tools,
      retries: retried ? 1 : 0,
      cost,
      success: !failed,
      ...(failed ? { error_type: outageNow ? 'upstream_unavailable' : 'server_error' } : {}),
      prompt_hash: kind === 'prompt_change' ? injection!.promptHash : samplePrompt(model, random),
      request_hash: request,
    };
  }
}

function healthyMs(agent: SimAgent, countFrom: number, end: number): number {
  if (agent.warmAt === undefined) return 0;
  const from = Math.max(countFrom, agent.warmAt);
  let total = Math.max(0, end - from);
  const intervals = agent.excluded
    .map(([a, b]): [number, number] => [Math.max(a, from), Math.min(b, end)])
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
  let covered = from;
  for (const [a, b] of intervals) {
    const lo = Math.max(a, covered);
    if (b > lo) {
      total -= b - lo;
      covered = b;
    }
  }
  return total;
}

function heapPush(heap: SimAgent[], agent: SimAgent): void {
  heap.push(agent);
  agent.heapIndex = heap.length - 1;
  siftUp(heap, heap.length - 1);
}

/** Restores order after the agent at `index` moved later in time. */
function heapFix(heap: SimAgent[], index: number): void {
  let i = index;
  const item = heap[i]!;
  for (;;) {
    const left = 2 * i + 1;
    if (left >= heap.length) break;
    const right = left + 1;
    const child = right < heap.length && heap[right]!.nextTs < heap[left]!.nextTs ? right : left;
    if (heap[child]!.nextTs >= item.nextTs) break;
    heap[i] = heap[child]!;
    heap[i]!.heapIndex = i;
    i = child;
  }
  heap[i] = item;
  item.heapIndex = i;
}

function siftUp(heap: SimAgent[], index: number): void {
  let i = index;
  const item = heap[i]!;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent]!.nextTs <= item.nextTs) break;
    heap[i] = heap[parent]!;
    heap[i]!.heapIndex = i;
    i = parent;
  }
  heap[i] = item;
  item.heapIndex = i;
}
