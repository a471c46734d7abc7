import type { Bus, EventEnvelope, Subscription } from '@immune/bus';

/**
 * The console story of single-process mode: one readable line per step of the immune loop, built from the
 * same bus events any alerting subscriber sees. Returns undefined for events that would only be noise.
 */
export function narrate(event: EventEnvelope): string | undefined {
  const agent = event.agentId;
  switch (event.type) {
    case 'agent.discovered': {
      const data = event.data;
      return `discovered   ${agent} (via ${data.source}, identified by ${data.identity.replace('_', ' ')})`;
    }
    case 'lifecycle.changed': {
      const data = event.data;
      if (data.trigger === 'baseline_ready') return `baseline     ${agent} learned its normal behaviour`;
      if (data.to === 'SUSPECTED') return `suspected    ${agent}: ${data.reason ?? 'anomalous vital'}`;
      if (data.to === 'DRAINING') return `draining     ${agent}: letting in-flight calls finish`;
      if (data.to === 'QUARANTINED') return `QUARANTINED  ${agent}: the gateway now refuses its calls`;
      if (data.to === 'HEALING') return `healing      ${agent}`;
      if (data.to === 'PROBATION') return `probation    ${agent}: watching fresh vitals before release`;
      if (data.to === 'HEALTHY' && data.from !== 'INITIALIZING')
        return `HEALTHY      ${agent} is back (${data.from} → HEALTHY)`;
      if (data.to === 'EXHAUSTED')
        return `EXHAUSTED    ${agent}: every cure failed, an operator must step in`;
      return undefined;
    }
    case 'infection.detected': {
      const data = event.data;
      const anomalies = data.anomalies.map((a) => `${a.type} ${a.sigma.toFixed(1)}σ`).join(', ');
      return `INFECTION    ${agent}: ${anomalies} (${data.severity})`;
    }
    case 'infection.diagnosed': {
      const data = event.data;
      const top = data.hypotheses
        .slice(0, 2)
        .map((h) => `${h.type} ${(h.confidence * 100).toFixed(0)} %`)
        .join(', ');
      return `diagnosis    ${agent}: ${top}`;
    }
    case 'approval.requested': {
      const data = event.data;
      return `APPROVAL     ${agent} is severe (${data.max_deviation.toFixed(1)}σ) and waits for an operator: pnpm immune approve ${agent}   (or: pnpm immune reject ${agent})`;
    }
    case 'approval.decided': {
      const data = event.data;
      return `decided      ${agent}: ${data.decision.replace('_', ' ')} by ${data.decided_by}`;
    }
    case 'healing.attempted': {
      const data = event.data;
      // One line per step: the attempt is announced again when the executor has applied it.
      if (data.status !== 'pending') return undefined;
      return `cure         ${agent}: step ${data.step + 1}, ${data.action.replaceAll('_', ' ')} for ${data.diagnosis.replaceAll('_', ' ')}`;
    }
    case 'healing.succeeded': {
      const data = event.data;
      return `cure worked  ${agent}: ${data.action.replaceAll('_', ' ')}`;
    }
    case 'healing.failed': {
      const data = event.data;
      return `cure failed  ${agent}: ${data.action.replaceAll('_', ' ')}${data.detail ? ` (${data.detail})` : ''}, escalating`;
    }
    case 'healing.exhausted':
      return `exhausted    ${agent}: no cure left`;
    case 'probation.passed':
      return `probation ok ${agent}`;
    case 'probation.failed': {
      const data = event.data;
      return `relapse      ${agent}: ${data.anomalies.map((a) => a.type).join(', ')} during probation`;
    }
    case 'fleet.correlated': {
      const data = event.data;
      return `FLEET        ${data.agents.length} of ${data.fleet_size} agents show ${data.anomaly_type} at once: an external cause (provider?), nobody is quarantined for it`;
    }
    case 'quarantine.released': {
      const data = event.data;
      return `released     ${agent}: ${data.reason}`;
    }
    default:
      return undefined;
  }
}

/** Prints the story of every event from now on; the subscription is ephemeral (the demo's console only). */
export async function tellStory(bus: Bus, say: (line: string) => void): Promise<Subscription> {
  return bus.subscribeEvents({
    handler: async (event) => {
      const line = narrate(event);
      if (line !== undefined) say(line);
    },
  });
}

/** Prefixes each line with the seconds since the start, so the story reads as a timeline. */
export function timeline(write: (line: string) => void, started = Date.now()): (line: string) => void {
  return (line) => write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${line}`);
}
