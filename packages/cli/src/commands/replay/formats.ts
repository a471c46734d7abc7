import type { Anomaly, LifecycleTransition } from '@immune/core';
import type { JudgeConfig, VitalDecision } from '../../fleet-judge.js';
import type { AgentSummary, ReplayOutput, ReplaySummary } from './vitals.js';

/** Which vitals get a line: by default only those where something happened. */
const worthShowing = (decision: VitalDecision, all: boolean) =>
  all || decision.duplicate || decision.anomalies.length > 0 || decision.transitions.length > 0;

const iso = (ts: number) => new Date(ts).toISOString();
const describeAnomaly = (a: Anomaly) => `${a.type} ${a.sigma.toFixed(1)}σ`;
const describeTransition = (t: LifecycleTransition) =>
  `${t.from} → ${t.to} (${t.trigger}${t.reason === undefined ? '' : `: ${t.reason}`})`;

export function textOutput(config: JudgeConfig, all: boolean): ReplayOutput {
  return {
    decision(decision) {
      if (!worthShowing(decision, all)) return undefined;
      const { vital } = decision;
      const parts = [iso(vital.ts), vital.agent_id, vital.id];
      if (decision.duplicate) return [...parts, 'duplicate id (a redelivery), ignored'].join('  ');
      const own = decision.anomalies.filter((a) => !decision.external.includes(a.type));
      const external = decision.anomalies.filter((a) => decision.external.includes(a.type));
      if (own.length > 0) parts.push(own.map(describeAnomaly).join(', '));
      if (external.length > 0) parts.push(`fleet-wide: ${external.map(describeAnomaly).join(', ')}`);
      if (decision.transitions.length > 0)
        parts.push(decision.transitions.map(describeTransition).join('; '));
      if (own.length + external.length + decision.transitions.length === 0)
        parts.push(`ok ${decision.state}`);
      return parts.join('  ');
    },
    timer(transition) {
      return [iso(transition.ts), transition.agent_id, '(timer)', describeTransition(transition)].join('  ');
    },
    summary(summary) {
      return textSummary(summary, config);
    },
  };
}

export function jsonOutput(config: JudgeConfig, all: boolean): ReplayOutput {
  return {
    decision(decision) {
      if (!worthShowing(decision, all)) return undefined;
      const { vital } = decision;
      return JSON.stringify({
        type: 'decision',
        vital_id: vital.id,
        agent_id: vital.agent_id,
        ts: vital.ts,
        ...(decision.duplicate ? { duplicate: true } : {}),
        anomalies: decision.anomalies,
        external: decision.external,
        transitions: decision.transitions,
        state: decision.state,
      });
    },
    timer(transition) {
      return JSON.stringify({ type: 'transition', ...transition });
    },
    summary(summary) {
      return [JSON.stringify({ type: 'summary', settings: settingsOf(config), ...summary })];
    },
  };
}

function settingsOf(config: JudgeConfig) {
  return {
    thresholds: config.detector.thresholds,
    min_samples: config.detector.minSamples,
    severe_sigma: config.severeSigma,
    fleet_hold_ms: config.fleetHoldMs,
    confirm_anomalies: config.lifecycle.confirmAnomalies,
    suspect_window_ms: config.lifecycle.suspectWindowMs,
  };
}

function textSummary(summary: ReplaySummary, config: JudgeConfig): string[] {
  const quarantined = summary.agents.filter((a) => a.quarantines > 0).length;
  const anomalies = summary.agents.reduce((n, a) => n + total(a.anomalies), 0);
  const thresholds = [...new Set(Object.values(config.detector.thresholds))].join('/');
  const header = ['agent', 'vitals', 'anomalies', 'fleet-wide', 'transitions', 'quarantined', 'final state'];
  const rows = summary.agents.map((a) => [
    a.agent_id,
    String(a.vitals),
    byType(a.anomalies),
    byType(a.external),
    String(a.transitions),
    a.quarantines > 0 ? `yes (${a.quarantines}×)` : 'no',
    a.final_state,
  ]);
  return [
    '',
    `summary: ${summary.vitals} vitals, ${summary.agents.length} agents, ${anomalies} anomalies, ` +
      `${quarantined} agent(s) quarantined`,
    `settings: threshold ${thresholds}σ, min samples ${config.detector.minSamples}, severe ${config.severeSigma}σ, ` +
      `confirm ${config.lifecycle.confirmAnomalies} in ${config.lifecycle.suspectWindowMs / 1000}s, ` +
      `fleet hold ${config.fleetHoldMs / 1000}s, drain ${config.lifecycle.drainTimeoutMs / 1000}s`,
    ...table([header, ...rows]),
  ];
}

function total(counts: AgentSummary['anomalies']): number {
  return Object.values(counts).reduce((n, c) => n + (c ?? 0), 0);
}

function byType(counts: AgentSummary['anomalies']): string {
  const entries = Object.entries(counts).sort(([a], [b]) => a.localeCompare(b));
  return entries.length === 0 ? '-' : entries.map(([type, n]) => `${type}×${n}`).join(', ');
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) =>
    row
      .map((cell, column) => cell.padEnd(widths[column]!))
      .join('  ')
      .trimEnd(),
  );
}
