import { useQuery } from '@tanstack/react-query';
import { useEffect, useRef } from 'react';
import { type AgentCard, api } from './api.js';
import { ContainmentButtons } from './Containment.js';
import { navigate, setSearchParam, useLocation } from './router.js';
import { useTrail } from './trail.js';

const STATES = ['', 'HEALTHY', 'SUSPECTED', 'QUARANTINED', 'HEALING', 'PROBATION', 'EXHAUSTED'] as const;

/** The headline figures and one card per agent; the state filter and the search live in the URL. */
export function Fleet({ canDecide }: { canDecide: boolean }) {
  const overview = useQuery({ queryKey: ['overview'], queryFn: api.overview });
  const agents = useQuery({ queryKey: ['agents'], queryFn: api.agents });
  const location = useLocation();
  const state = location.searchParams.get('state') ?? '';
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
          <Figure label="agents" value={o.agents.total} />
          <Figure label="quarantined" value={o.agents.quarantined} />
          <Figure label={`calls (${o.window})`} value={o.calls} />
          <Figure label={`infections (${o.window})`} value={o.infections} />
          <Figure label={`healed (${o.window})`} value={o.healed} />
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

function Figure({ label, value }: { label: string; value: number }) {
  return (
    <div className="figure">
      <span className="value">{value}</span> <span className="label">{label}</span>
    </div>
  );
}

function AgentTile({ agent, canDecide }: { agent: AgentCard; canDecide: boolean }) {
  const href = `/agents/${encodeURIComponent(agent.agent_id)}`;
  const trail = useTrail(agent.agent_id);
  return (
    <li className="agent" data-testid={`agent-${agent.agent_id}`} data-state={agent.state}>
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
      {agent.approval && <p className="meta">case {agent.approval}</p>}
      {canDecide && (
        <div className="actions">
          <ContainmentButtons agent={agent} />
        </div>
      )}
    </li>
  );
}
