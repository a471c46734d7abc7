import { useQuery } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { api } from './api.js';
import { bandSteps, sentinelBand } from './band.js';
import { type Annotation, MetricChart } from './Chart.js';
import { ContainmentButtons } from './Containment.js';
import { FeedbackForm } from './FeedbackForm.js';
import { Link } from './Link.js';
import { PROBATION_REFRESH_MS, ProbationCountdown } from './Probation.js';

const METRICS = [
  'latency_ms',
  'total_tokens',
  'input_tokens',
  'output_tokens',
  'cost',
  'tool_calls',
  'retries',
];

/** One agent: its card, a metric chart with its baseline band and marks for cures and lifecycle changes, history. */
export function AgentPage({ agentId, canDecide }: { agentId: string; canDecide: boolean }) {
  const [metric, setMetric] = useState('latency_ms');
  const [window, setWindow] = useState('1h');
  const detail = useQuery({
    queryKey: ['agent', agentId],
    queryFn: () => api.agent(agentId),
    refetchInterval: (query) => (query.state.data?.probation ? PROBATION_REFRESH_MS : false),
  });
  const series = useQuery({
    queryKey: ['agent', agentId, 'series', window],
    queryFn: () => api.series(agentId, window),
  });
  const chart = useMemo(() => {
    if (series.data === undefined) return null;
    const { ts, values } = series.data.series;
    const annotations: Annotation[] = [
      ...series.data.healing.map((attempt) => ({
        ts: attempt.ts,
        label: `cure ${attempt.action} (${attempt.status})`,
        kind: 'cure' as const,
      })),
      ...series.data.lifecycle.map((transition) => ({
        ts: transition.ts,
        label: `${transition.from} → ${transition.to}`,
        kind: 'lifecycle' as const,
      })),
    ].sort((a, b) => a.ts - b.ts);
    return {
      ts,
      values: values[metric] ?? [],
      band: sentinelBand(series.data, metric),
      steps: bandSteps(series.data, metric),
      annotations,
    };
  }, [series.data, metric]);

  if (detail.isError) return <p role="alert">{String(detail.error.message)}</p>;
  const agent = detail.data?.agent;
  return (
    <article aria-labelledby="agent-title">
      <h2 id="agent-title">
        {agent?.name ?? agentId} {agent && <span className={`state ${agent.state}`}>{agent.state}</span>}
      </h2>
      {agent && (
        <p className="meta">
          {agent.agent_id} · {agent.model ?? 'model unknown'}
          {agent.mcp_servers.length > 0 && ` · MCP: ${agent.mcp_servers.join(', ')}`}
          {agent.quarantined && ' · quarantined'}
        </p>
      )}
      {detail.data?.probation && (
        <p>
          <ProbationCountdown probation={detail.data.probation} />
        </p>
      )}
      {agent && canDecide && (
        <div className="actions">
          <ContainmentButtons agent={agent} />
        </div>
      )}
      <div className="section-head">
        <label>
          Metric{' '}
          <select value={metric} onChange={(event) => setMetric(event.target.value)}>
            {METRICS.map((name) => (
              <option key={name}>{name}</option>
            ))}
          </select>
        </label>
        <label>
          Window{' '}
          <select value={window} onChange={(event) => setWindow(event.target.value)}>
            {['15m', '1h', '6h', '24h', '7d'].map((name) => (
              <option key={name}>{name}</option>
            ))}
          </select>
        </label>
      </div>
      {chart && <MetricChart metric={metric} {...chart} />}
      <section aria-labelledby="incidents-title">
        <h3 id="incidents-title">Incidents</h3>
        {detail.data?.infections.length === 0 && <p className="empty">No incident.</p>}
        <ol className="timeline">
          {detail.data?.infections.map((infection) => (
            <li key={infection.infection_id} data-testid={`incident-link-${infection.infection_id}`}>
              <Link to={`/incidents/${encodeURIComponent(infection.infection_id)}`}>
                {new Date(infection.ts).toLocaleTimeString()} · {infection.severity}{' '}
                {infection.anomalies.join(', ')}
              </Link>{' '}
              · {infection.status}
            </li>
          ))}
        </ol>
      </section>
      <section aria-labelledby="healing-title">
        <h3 id="healing-title">Healing history</h3>
        {detail.data?.healing.length === 0 && <p className="empty">No cure has run.</p>}
        <ol className="timeline">
          {detail.data?.healing.map((attempt) => (
            <li key={attempt.id}>
              {new Date(attempt.ts).toLocaleTimeString()} · {attempt.diagnosis} → {attempt.action}:{' '}
              {attempt.status}
            </li>
          ))}
        </ol>
      </section>
      {canDecide && (detail.data?.infections.length ?? 0) > 0 && (
        <FeedbackForm target={{ agent_id: agentId }} />
      )}
      <section aria-labelledby="lifecycle-title">
        <h3 id="lifecycle-title">Lifecycle</h3>
        <ol className="timeline">
          {detail.data?.lifecycle.map((transition) => (
            <li key={transition.seq}>
              {new Date(transition.ts).toLocaleTimeString()} · {transition.from} → {transition.to} (
              {transition.trigger})
            </li>
          ))}
        </ol>
      </section>
    </article>
  );
}
