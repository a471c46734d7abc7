import { useQueryClient } from '@tanstack/react-query';
import { useId, useState } from 'react';
import { ApiError, api, type DiagnosisType } from './api.js';

/** Every cause an operator can name, with its words; a Record so a new diagnosis type fails the type check. */
export const CAUSES: Record<DiagnosisType, string> = {
  prompt_drift: 'prompt drift',
  prompt_injection: 'prompt injection',
  infinite_loop: 'an infinite loop',
  tool_instability: 'an unstable tool',
  memory_corruption: 'corrupted memory',
  cost_overrun: 'a cost overrun',
  external_cause: 'an external cause (provider, network)',
  unknown: 'unknown',
};

/**
 * "The true cause was …": labels an infection (the agent's latest, or one by id) through the healer's feedback
 * command, so later diagnoses of the same anomalies learn from it.
 */
export function FeedbackForm({ target }: { target: { agent_id: string } | { infection_id: string } }) {
  const client = useQueryClient();
  const id = useId();
  const [cause, setCause] = useState<DiagnosisType>('prompt_injection');
  const [message, setMessage] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <form
      className="feedback"
      aria-labelledby={`${id}-title`}
      onSubmit={(event) => {
        event.preventDefault();
        setBusy(true);
        void api
          .feedback(target, cause)
          .then(
            (reply) =>
              setMessage(
                `Recorded for infection ${reply.infection_id}: diagnosed ${reply.predicted}, true cause ${reply.true_cause}.`,
              ),
            (error: unknown) =>
              setMessage(error instanceof ApiError ? `Feedback refused: ${error.message}` : String(error)),
          )
          .finally(() => {
            setBusy(false);
            void client.invalidateQueries({ queryKey: ['patterns'] });
          });
      }}
    >
      <h3 id={`${id}-title`}>Feedback</h3>
      <label>
        The true cause was{' '}
        <select value={cause} onChange={(event) => setCause(event.target.value as DiagnosisType)}>
          {Object.entries(CAUSES).map(([value, words]) => (
            <option key={value} value={value}>
              {words}
            </option>
          ))}
        </select>
      </label>{' '}
      <button type="submit" disabled={busy}>
        Send feedback
      </button>
      {message && (
        <p role="status" data-testid="feedback-message">
          {message}
        </p>
      )}
    </form>
  );
}
