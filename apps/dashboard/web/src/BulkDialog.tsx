import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { ApiError, api, type Decision } from './api.js';
import { BULK_VERB, bulkConfirmLabel, type DecisionReport, report } from './decisions.js';

/**
 * Approve all / Reject all (pending cases) and Heal all (rejected cases): first the preview (what would run,
 * case by case), then exactly the ids it showed, so a case that arrived in between is never decided unseen.
 */
export function BulkDialog({
  decision,
  onClose,
  onDone,
}: {
  decision: Decision;
  onClose: () => void;
  onDone: (report: DecisionReport) => void;
}) {
  const client = useQueryClient();
  const ref = useRef<HTMLDialogElement>(null);
  const preview = useQuery({
    queryKey: ['preview', decision],
    queryFn: () => api.preview(decision),
    gcTime: 0,
  });
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    ref.current?.showModal();
  }, []);
  const ids = preview.data?.approval_ids ?? [];
  const run = async () => {
    setBusy(true);
    try {
      onDone(report(decision, await api.decide(decision, { approval_ids: ids })));
    } catch (error) {
      onDone({ summary: error instanceof ApiError ? `refused: ${error.message}` : String(error), cases: [] });
    }
    await client.invalidateQueries({ queryKey: ['approvals'] });
    ref.current?.close();
  };
  const title = BULK_VERB[decision];
  return (
    <dialog ref={ref} onClose={onClose} aria-labelledby="bulk-title">
      <h2 id="bulk-title">{title}</h2>
      {preview.isPending && <p>Loading the preview…</p>}
      {preview.data && (
        <>
          <p data-testid="bulk-summary">
            {ids.length} {ids.length === 1 ? 'case' : 'cases'}:{' '}
            {preview.data.summary.map((row) => `${row.count} ${row.diagnosis}`).join(', ')}
          </p>
          <ul className="preview">
            {preview.data.cases.map((item) => (
              <li key={item.approval_id}>
                {item.agent_id}: {item.hypotheses[0]?.type ?? 'unknown'} ({item.severity})
              </li>
            ))}
          </ul>
        </>
      )}
      <div className="actions">
        <button
          type="button"
          className="primary"
          disabled={ids.length === 0 || busy}
          onClick={() => void run()}
        >
          {bulkConfirmLabel(decision, ids.length)}
        </button>
        <button type="button" onClick={() => ref.current?.close()}>
          Cancel
        </button>
      </div>
    </dialog>
  );
}
