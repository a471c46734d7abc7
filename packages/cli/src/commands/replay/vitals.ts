import { type AnomalyType, compileChecker, type LifecycleTransition, Vital } from '@immune/core';
import { CliFailure } from '../../errors.js';
import type { FleetJudge, VitalDecision } from '../../fleet-judge.js';
import type { LineWriter } from '../../io.js';
import type { NumberedLine } from './input.js';
import { clip } from './series.js';

const checkVital = compileChecker(Vital);

export interface ReplayOutput {
  /** One line per decision worth showing (or per vital with `all`), JSON or text. */
  decision(decision: VitalDecision): string | undefined;
  timer(transition: LifecycleTransition): string;
  summary(summary: ReplaySummary): string[];
}

export interface AgentSummary {
  agent_id: string;
  vitals: number;
  anomalies: Partial<Record<AnomalyType, number>>;
  /** Anomalies explained by a fleet-wide cause. */
  external: Partial<Record<AnomalyType, number>>;
  transitions: number;
  quarantines: number;
  final_state: string;
}

export interface ReplaySummary {
  vitals: number;
  agents: AgentSummary[];
}

/** Validates and judges every line in order; a bad line stops the replay with its line number. */
export async function replayVitals(
  lines: AsyncIterable<NumberedLine>,
  judge: FleetJudge,
  out: LineWriter,
  format: ReplayOutput,
): Promise<ReplaySummary> {
  const agents = new Map<string, AgentSummary>();
  let vitals = 0;
  const noteTransition = (transition: LifecycleTransition) => {
    const agent = agents.get(transition.agent_id);
    if (!agent) return;
    agent.transitions++;
    if (transition.to === 'QUARANTINED') agent.quarantines++;
  };
  const emitTimers = async (fired: LifecycleTransition[]) => {
    for (const transition of fired) {
      noteTransition(transition);
      if (out.line(format.timer(transition))) await out.flush();
    }
  };

  for await (const { number, text } of lines) {
    if (text.trim() === '') continue;
    const vital = parseVital(text, number);
    vitals++;
    await emitTimers(judge.advance(vital.ts));
    const decision = judge.observe(vital);
    const agent = summaryFor(agents, vital.agent_id);
    agent.vitals++;
    for (const anomaly of decision.anomalies) {
      const bucket = decision.external.includes(anomaly.type) ? agent.external : agent.anomalies;
      bucket[anomaly.type] = (bucket[anomaly.type] ?? 0) + 1;
    }
    for (const transition of decision.transitions) noteTransition(transition);
    const line = format.decision(decision);
    if (line !== undefined && out.line(line)) await out.flush();
  }
  await emitTimers(judge.finish());

  const summary: ReplaySummary = {
    vitals,
    agents: [...agents.values()]
      .map((agent) => ({ ...agent, final_state: judge.state(agent.agent_id) ?? 'INITIALIZING' }))
      .sort((a, b) => a.agent_id.localeCompare(b.agent_id)),
  };
  for (const line of format.summary(summary)) out.line(line);
  await out.flush();
  return summary;
}

function parseVital(text: string, line: number): Vital {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new CliFailure(`line ${line}: not valid JSON (${(error as Error).message}): ${clip(text)}`);
  }
  if (!checkVital.check(value)) {
    const issues = checkVital
      .issues(value)
      .slice(0, 5)
      .map((issue) => `${issue.path} ${issue.message}`)
      .join('; ');
    throw new CliFailure(`line ${line}: not a valid vital: ${issues}`);
  }
  return value;
}

function summaryFor(agents: Map<string, AgentSummary>, agentId: string): AgentSummary {
  let agent = agents.get(agentId);
  if (!agent) {
    agent = {
      agent_id: agentId,
      vitals: 0,
      anomalies: {},
      external: {},
      transitions: 0,
      quarantines: 0,
      final_state: 'INITIALIZING',
    };
    agents.set(agentId, agent);
  }
  return agent;
}
