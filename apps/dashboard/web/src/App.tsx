import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { AgentPage } from './AgentPage.js';
import { ApiError, api } from './api.js';
import { Fleet } from './Fleet.js';
import { HelpDialog } from './HelpDialog.js';
import { IncidentPage } from './IncidentPage.js';
import { Login } from './Login.js';
import { useLiveStream } from './live.js';
import { Patterns } from './Patterns.js';
import { Queue } from './Queue.js';
import { navigate, parseRoute, useLocation } from './router.js';
import { useTheme } from './theme.js';

export function App() {
  const client = useQueryClient();
  const session = useQuery({
    queryKey: ['session'],
    queryFn: api.session,
    retry: (count, error) => !(error instanceof ApiError && error.status === 401) && count < 1,
  });
  const operator = session.data?.operator;
  const live = useLiveStream(client, operator !== undefined);
  const [theme, nextTheme] = useTheme();
  const [help, setHelp] = useState(false);
  const location = useLocation();
  const route = parseRoute(location.pathname);

  if (session.isPending) return <p className="loading">Loading…</p>;
  if (operator === undefined) return <Login />;

  const logout = async () => {
    await api.logout();
    client.clear();
    void client.invalidateQueries({ queryKey: ['session'] });
  };
  return (
    <>
      <header className="top">
        <a
          href="/"
          className="brand"
          onClick={(event) => {
            event.preventDefault();
            navigate('/');
          }}
        >
          Immune
        </a>
        <output
          className={live.live ? 'badge live' : 'badge stale'}
          aria-live="polite"
          data-testid="live-badge"
        >
          {live.live ? 'live' : `stale since ${new Date(live.since).toLocaleTimeString()}`}
        </output>
        <span className="spacer" />
        <span>
          {operator.name} <span className="role">({operator.role})</span>
        </span>
        <button type="button" onClick={nextTheme} title="Change the colour scheme (system, dark, light)">
          Theme: {theme}
        </button>
        <button type="button" onClick={() => setHelp(true)} aria-label="Keyboard shortcuts">
          ?
        </button>
        <button type="button" onClick={() => void logout()}>
          Log out
        </button>
      </header>
      <main>
        {route.page === 'agent' ? (
          <AgentPage agentId={route.agentId} canDecide={operator.role === 'operator'} />
        ) : route.page === 'incident' ? (
          <IncidentPage infectionId={route.infectionId} canDecide={operator.role === 'operator'} />
        ) : (
          <>
            <Queue canDecide={operator.role === 'operator'} onHelp={() => setHelp(true)} />
            <Fleet canDecide={operator.role === 'operator'} />
            <Patterns />
          </>
        )}
      </main>
      {help && <HelpDialog onClose={() => setHelp(false)} />}
    </>
  );
}
