import { useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { type AgentCard, ApiError, api, type Containment } from './api.js';
import { ConfirmDialog } from './ConfirmDialog.js';

const LABEL: Record<Containment, string> = { quarantine: 'Quarantine', release: 'Release' };

/**
 * Quarantine / Release for one agent (the healer's manual containment commands), after a confirm. Release is
 * offered while the agent is held (quarantined, or its cases exhausted), Quarantine otherwise; the live stream
 * brings the new state, and the agent's queries are refreshed at once anyway.
 */
export function ContainmentButtons({ agent }: { agent: AgentCard }) {
  const client = useQueryClient();
  const [confirm, setConfirm] = useState<Containment | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const held = agent.quarantined || agent.state === 'QUARANTINED' || agent.state === 'EXHAUSTED';
  const action: Containment = held ? 'release' : 'quarantine';
  const run = async (chosen: Containment) => {
    try {
      await api.contain(chosen, agent.agent_id, 'from the dashboard');
      setMessage(chosen === 'quarantine' ? 'quarantined' : 'released');
    } catch (error) {
      setMessage(error instanceof ApiError ? `${LABEL[chosen]} refused: ${error.message}` : String(error));
    }
    await client.invalidateQueries({ queryKey: ['agents'] });
    await client.invalidateQueries({ queryKey: ['agent', agent.agent_id] });
  };
  return (
    <span className="containment">
      <button type="button" onClick={() => setConfirm(action)}>
        {LABEL[action]}
      </button>
      {message && (
        <output className="meta" data-testid={`containment-${agent.agent_id}`}>
          {' '}
          {message}
        </output>
      )}
      {confirm && (
        <ConfirmDialog
          title={`${LABEL[confirm]} ${agent.name ?? agent.agent_id}?`}
          confirmLabel={LABEL[confirm]}
          onClose={() => setConfirm(null)}
          onConfirm={() => void run(confirm)}
        />
      )}
    </span>
  );
}
