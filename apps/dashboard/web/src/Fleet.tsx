import { useQuery } from '@tanstack/react-query';
import { useEffect, useRef } from 'react';
import { type AgentCard, api } from './api.js';
import { ContainmentButtons } from './Containment.js';
import { CAUSES } from './FeedbackForm.js';
import { SEVERITY_VALUES, WINDOW_VALUES, windowOf } from './filters.js';
import { navigate, setSearchParam, useLocation } from './router.js';
import { useTrail } from './trail.js';

const STATES = ['', 'HEALTHY', 'SUSPECTED', 'QUARANTINED', 'HEALING', 'PROBATION', 'EXHAUSTED'] as const;

/**
 * The headline figures and one card per agent with its worst-σ sparkline; the window, the state, severity and
 * diagnosis filters and the search live in the URL (`?window=6h&state=QUARANTINED&severity=high&q=research`).
 */
export function Fleet({ canDecide }: { canDecide: boolean }) {
  const location = useLocation();
  const span = windowOf(location.searchParams.get('window'));
  const overview = useQuery({ queryKey: ['overview', span], queryFn: () => api.overview(span) });
  const agents = useQuery({ queryKey: ['agents', span], queryFn: () => api.agents(span) });
  const state = location.searchParams.get('state') ?? '';
  const severity = location.searchParams.get('severity') ?? '';
  const diagnosis = location.searchParams.get('diagnosis') ?? '';
  const search = location.searchParams.get('q') ?? '';
  const searchRef = useRef<HTMLInputElement>(null);
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key === '/' && !(event.target as HTMLElement).closest('input, textarea, dialog')) {
        event.preventDefault();
        searchRef.current?.focus();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
  const shown = (agents.data?.agents ?? []).filter(
    (agent) =>
      (state === '' || agent.state === state) &&
      (severity === '' || agent.severity === severity) &&
      (diagnosis === '' || agent.diagnosis === diagnosis) &&
      (search === '' || `${agent.agent_id} ${agent.name ?? ''} ${agent.tags.join(' ')}`.includes(search)),
  );
  const o = overview.data;
  return (
    <>
      {o && (
        <section aria-labelledby="headline-title" className="headline">
          <h2 id="headline-title" className="visually-hidden">
            Headline, last {o.window}
          </h2>
          <Figure
            label="agents"
            value={o.agents.total}
            previous={Object.values(o.previous.by_state_at_end).reduce((sum, n) => sum + n, 0)}
          />
          <Figure
            label="quarantined"
            value={o.agents.quarantined}
            previous={o.previous.held_at_end}
            upIsBad
          />
          <Figure label={`uptime (${o.window})`} value={o.uptime} previous={o.previous.uptime} percent />
          <Figure label={`calls (${o.window})`} value={o.calls} previous={o.previous.calls} />
          <Figure
            label={`infections (${o.window})`}
            value={o.infections}
            previous={o.previous.infections}
            upIsBad
          />
          <Figure label={`healed (${o.window})`} value={o.healed} previous={o.previous.healed} />
          <Figure
            label={`healing success (${o.window})`}
            value={o.healing_success_rate}
            previous={o.previous.healing_success_rate}
            percent
          />
          <p className="by-state" data-testid="agents-by-state">
            {Object.entries(o.agents.by_state)
              .filter(([state, n]) => n > 0 || (o.previous.by_state_at_end[state] ?? 0) > 0)
              .map(([state, n]) => {
                const before = o.previous.by_state_at_end[state] ?? 0;
                return (
                  <span key={state} className="state-count" title={`end of the previous window: ${before}`}>
                    {state} {n}
                    {n !== before && ` (${n > before ? '▲' : '▼'}${Math.abs(n - before)})`}
                  </span>
                );
              })}
          </p>
          {o.fleet.map((cause) => (
            <p key={cause.anomaly_type} role="status" className="banner">
              {cause.agents.length} of {cause.fleet_size} agents show {cause.anomaly_type} at once: external,
              nobody quarantined
            </p>
          ))}
        </section>
      )}
      <section aria-labelledby="fleet-title">
        <div className="section-head">
          <h2 id="fleet-title">Fleet</h2>
          <label>
            State{' '}
            <select value={state} onChange={(event) => setSearchParam('state', event.target.value)}>
              {STATES.map((value) => (
                <option key={value} value={value}>
                  {value === '' ? 'any' : value}
                </option>
              ))}
            </select>
          </label>
          <label>
            Severity{' '}
            <select value={severity} onChange={(event) => setSearchParam('severity', event.target.value)}>
              <option value="">any</option>
              {SEVERITY_VALUES.map((value) => (
                <option key={value} value={value}>
                  {value}
                </option>
              ))}
            </select>
          </label>
          <label>
            Diagnosis{' '}
            <select value={diagnosis} onChange={(event) => setSearchParam('diagnosis', event.target.value)}>
              <option value="">any</option>
              {Object.entries(CAUSES).map(([value, words]) => (
                <option key={value} value={value}>
                  {words}
                </option>
              ))}
            </select>
          </label>
          <label>
            Window{' '}
            <select value={span} onChange={(event) => setSearchParam('window', event.target.value)}>
              {WINDOW_VALUES.map((value) => (
                <option key={value} value={value}>
                  {value}
                </option>
              ))}
            </select>
          </label>
          <label>
            Search{' '}
            <input
              ref={searchRef}
              type="search"
              value={search}
              onChange={(event) => setSearchParam('q', event.target.value)}
            />
          </label>
        </div>
        <ul className="agents">
          {shown.map((agent) => (
            <AgentTile key={agent.agent_id} agent={agent} canDecide={canDecide} />
          ))}
        </ul>
      </section>
    </>
  );
}

/**
 * One headline figure; with `previous` (the same figure over the window before), its trend: up, down or level
 * and by how much. `upIsBad` colours a rise as bad (infections); a rate is shown and compared in percent.
 */
function Figure({
  label,
  value,
  previous,
  percent = false,
  upIsBad = false,
}: {
  label: string;
  value: number | null;
  previous?: number | null;
  percent?: boolean;
  upIsBad?: boolean;
}) {
  const shown = (x: number) => (percent ? `${Math.round(x * 100)}%` : String(x));
  const trend =
    previous === undefined || previous === null || value === null
      ? undefined
      : percent
        ? Math.round(value * 100) - Math.round(previous * 100)
        : value - previous;
  const direction = trend === undefined ? undefined : trend > 0 ? 'up' : trend < 0 ? 'down' : 'level';
  return (
    <div className="figure" data-testid={`figure-${label.split(' (')[0]}`}>
      <span className="value">{value === null ? '–' : shown(value)}</span>{' '}
      <span className="label">{label}</span>
      {direction !== undefined && (
        <span
          className={`trend ${direction}${direction !== 'level' && (direction === 'up') === upIsBad ? ' bad' : ''}`}
          data-trend={direction}
          title={`previous window: ${shown(previous!)}`}
        >
          {' '}
          {direction === 'up' ? '▲' : direction === 'down' ? '▼' : '='}
          {direction !== 'level' && ` ${Math.abs(trend!)}${percent ? ' pts' : ''}`}
        </span>
      )}
    </div>
  );
}

function AgentTile({ agent, canDecide }: { agent: AgentCard; canDecide: boolean }) {
  const href = `/agents/${encodeURIComponent(agent.agent_id)}`;
  const trail = useTrail(agent.agent_id);
  return (
    <li
      className="agent"
      data-testid={`agent-${agent.agent_id}`}
      data-state={agent.state}
      data-severity={agent.severity ?? ''}
      data-diagnosis={agent.diagnosis ?? ''}
    >
      <h3>
        <a
          href={href}
          onClick={(event) => {
            event.preventDefault();
            navigate(href);
          }}
        >
          {agent.name ?? agent.agent_id}
        </a>
      </h3>
      <p>
        <span className={`state ${agent.state}`}>{agent.state}</span>
        {agent.quarantined && <span className="state QUARANTINED"> quarantined</span>}
      </p>
      <p className="meta">
        {agent.model ?? 'model unknown'}
        {agent.mcp_servers.length > 0 && ` · MCP: ${agent.mcp_servers.join(', ')}`}
        {agent.tags.length > 0 && ` · ${agent.tags.join(', ')}`}
      </p>
      {trail && (
        <p className="meta" data-testid={`trail-${agent.agent_id}`}>
          live: {trail.join(' → ')}
        </p>
      )}
      <Sparkline agentId={agent.agent_id} sigma={agent.sigma} />
      {agent.approval && (
        <p className="meta">
          case {agent.approval}
          {agent.severity && ` · ${agent.severity}`}
          {agent.diagnosis && ` · ${CAUSES[agent.diagnosis]}`}
        </p>
      )}
      {canDecide && (
        <div className="actions">
          <ContainmentButtons agent={agent} />
        </div>
      )}
    </li>
  );
}

/**
 * The agent's worst σ per bucket over the window, as a tiny SVG line (no chart library for 24 points). The
 * scale starts at 0 and reaches at least 6σ, so a quiet agent stays a flat line rather than noise blown up.
 */
function Sparkline({ agentId, sigma }: { agentId: string; sigma: number[] }) {
  const width = 120;
  const height = 24;
  const top = Math.max(6, ...sigma);
  const worst = Math.max(0, ...sigma);
  const step = sigma.length > 1 ? width / (sigma.length - 1) : width;
  const points = sigma
    .map((value, index) => `${(index * step).toFixed(1)},${(height - (value / top) * height).toFixed(1)}`)
    .join(' ');
  return (
    <p className="meta sparkline" data-testid={`spark-${agentId}`} data-worst={worst}>
      <svg width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img">
        <title>{`worst σ per interval, peak ${worst.toFixed(1)}σ`}</title>
        <polyline points={points} fill="none" stroke="currentColor" strokeWidth="1.5" />
      </svg>{' '}
      {worst > 0 ? `peak ${worst.toFixed(1)}σ` : 'no anomaly'}
    </p>
  );
}
