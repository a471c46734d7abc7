import type { Random } from './random.js';

export const PROFILES = ['steady', 'bursty', 'diurnal', 'drifting'] as const;
export type Profile = (typeof PROFILES)[number];

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * How one simulated agent behaves when healthy. Every parameter is drawn per agent, so no two agents share a
 * normal, and the profile decides how that normal moves over time:
 * - steady: Poisson calls every 3–10 s, Gaussian noise;
 * - bursty: sessions of rapid calls (every ~2 s) separated by idle gaps (~10 min), heavy-tailed output sizes;
 * - diurnal: call rate ×0.2–1.8 and latency ±30 % over the day (provider load), peak in the afternoon;
 * - drifting: input tokens and latency wander by up to ×1.5 / ÷1.5 over days (growing contexts, model updates).
 */
export interface AgentModel {
  id: string;
  profile: Profile;
  meanIntervalMs: number;
  inputMean: number;
  inputCv: number;
  outputMean: number;
  /** Coefficient of variation (Gaussian) or log-sd (bursty, log-normal) of output tokens. */
  outputSpread: number;
  latencyBaseMs: number;
  latencyPerOutputTokenMs: number;
  latencyCv: number;
  toolLambda: number;
  errorRate: number;
  retryRate: number;
  priceIn: number;
  priceOut: number;
  prompts: string[];
  /** Probability of the second prompt, when the agent has two. */
  secondPromptShare: number;
  phase: number;
  driftPeriodMs: number;
  /** Bursty agents: calls left in the current session. */
  sessionLeft: number;
}

export function createAgent(id: string, profile: Profile, random: Random): AgentModel {
  const twoPrompts = random.chance(0.3);
  return {
    id,
    profile,
    meanIntervalMs: random.between(3_000, 10_000),
    inputMean: random.between(300, 4_000),
    inputCv: random.between(0.08, 0.25),
    outputMean: random.between(80, 800),
    outputSpread: profile === 'bursty' ? random.between(0.25, 0.45) : random.between(0.1, 0.3),
    latencyBaseMs: random.between(200, 900),
    latencyPerOutputTokenMs: random.between(5, 25),
    latencyCv: random.between(0.08, 0.2),
    toolLambda: random.chance(0.4) ? 0 : random.between(0.2, 2.5),
    errorRate: random.between(0.002, 0.02),
    retryRate: random.between(0, 0.02),
    priceIn: random.between(0.1, 3) / 1e6,
    priceOut: random.between(0.4, 12) / 1e6,
    prompts: twoPrompts ? [`${id}-prompt-a`, `${id}-prompt-b`] : [`${id}-prompt-a`],
    secondPromptShare: random.between(0.3, 0.5),
    phase: random.between(0, 2 * Math.PI),
    driftPeriodMs: random.between(2 * DAY, 6 * DAY),
    sessionLeft: 0,
  };
}

/** Time until the agent's next call, from `now`. */
export function nextInterval(agent: AgentModel, now: number, random: Random): number {
  switch (agent.profile) {
    case 'bursty':
      if (agent.sessionLeft > 0) {
        agent.sessionLeft--;
        return random.exponential(2_000);
      }
      agent.sessionLeft = Math.ceil(random.exponential(30));
      return random.exponential(10 * 60_000);
    case 'diurnal':
      return random.exponential(agent.meanIntervalMs / (1 + 0.8 * dayWave(now)));
    default:
      return random.exponential(agent.meanIntervalMs);
  }
}

/** −1 at 02:00, +1 at 14:00 (UTC, simulated time). */
function dayWave(now: number): number {
  return Math.sin((2 * Math.PI * ((now % DAY) - 8 * HOUR)) / DAY);
}

/** Multipliers that move the agent's normal over time. */
export function drift(agent: AgentModel, now: number): { input: number; latency: number } {
  if (agent.profile === 'diurnal') return { input: 1, latency: 1 + 0.3 * dayWave(now) };
  if (agent.profile === 'drifting') {
    const wave = Math.sin((2 * Math.PI * now) / agent.driftPeriodMs + agent.phase);
    return { input: Math.exp(0.4 * wave), latency: Math.exp(0.25 * wave) };
  }
  return { input: 1, latency: 1 };
}

/** Mean and standard deviation of each metric at time `now`, as the generator produces them. */
export interface MetricMoments {
  input: [number, number];
  output: [number, number];
  total: [number, number];
  latency: [number, number];
  tools: [number, number];
  cost: [number, number];
}

export function moments(agent: AgentModel, now: number): MetricMoments {
  const { input: inputDrift, latency: latencyDrift } = drift(agent, now);
  const inMean = agent.inputMean * inputDrift;
  const inSd = agent.inputCv * inMean;
  const outMean = agent.outputMean;
  const outSd =
    agent.profile === 'bursty'
      ? outMean * Math.sqrt(Math.exp(agent.outputSpread ** 2) - 1)
      : agent.outputSpread * outMean;
  const latMean = (agent.latencyBaseMs + agent.latencyPerOutputTokenMs * outMean) * latencyDrift;
  const latSd = Math.hypot(agent.latencyPerOutputTokenMs * latencyDrift * outSd, agent.latencyCv * latMean);
  return {
    input: [inMean, inSd],
    output: [outMean, outSd],
    total: [inMean + outMean, Math.hypot(inSd, outSd)],
    latency: [latMean, latSd],
    tools: [agent.toolLambda, Math.sqrt(agent.toolLambda)],
    cost: [
      agent.priceIn * inMean + agent.priceOut * outMean,
      Math.hypot(agent.priceIn * inSd, agent.priceOut * outSd),
    ],
  };
}

export function sampleInput(agent: AgentModel, now: number, random: Random): number {
  const mean = agent.inputMean * drift(agent, now).input;
  return Math.max(1, Math.round(mean * (1 + agent.inputCv * random.normal())));
}

export function sampleOutput(agent: AgentModel, random: Random): number {
  if (agent.profile === 'bursty') {
    const s = agent.outputSpread;
    return Math.max(1, Math.round(agent.outputMean * Math.exp(s * random.normal() - (s * s) / 2)));
  }
  return Math.max(1, Math.round(agent.outputMean * (1 + agent.outputSpread * random.normal())));
}

export function sampleLatency(agent: AgentModel, outputTokens: number, now: number, random: Random): number {
  const mean =
    (agent.latencyBaseMs + agent.latencyPerOutputTokenMs * outputTokens) * drift(agent, now).latency;
  return Math.max(20, mean * (1 + agent.latencyCv * random.normal()));
}

export function samplePrompt(agent: AgentModel, random: Random): string {
  return agent.prompts.length > 1 && random.chance(agent.secondPromptShare)
    ? agent.prompts[1]!
    : agent.prompts[0]!;
}
