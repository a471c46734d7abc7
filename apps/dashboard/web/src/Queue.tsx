import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useMemo, useState } from 'react';
import { ApiError, type ApprovalView, api, type Decision } from './api.js';
import { BulkDialog } from './BulkDialog.js';
import { ConfirmDialog } from './ConfirmDialog.js';
import { BULK_VERB, type DecisionReport, report, VERB } from './decisions.js';
import { navigate, setSearchParam, useLocation } from './router.js';

/**
 * The cases waiting for a person: pending ones (Approve / Reject, Approve all with a preview) and rejected ones
 * (Heal now). Refreshed by the live stream. Keys: j/k select, a/r/h decide after a confirm. The selected case
 * is in the URL (`?case=<approval id>`), by id, so it stays on its case when others arrive or leave.
 */
export function Queue({ canDecide, onHelp }: { canDecide: boolean; onHelp: () => void }) {
  const client = useQueryClient();
  const pending = useQuery({ queryKey: ['approvals', 'pending'], queryFn: () => api.approvals('pending') });
  const rejected = useQuery({
    queryKey: ['approvals', 'rejected'],
    queryFn: () => api.approvals('rejected'),
  });
  const cases = useMemo(
    () => [...(pending.data?.approvals ?? []), ...(rejected.data?.approvals ?? [])],
    [pending.data, rejected.data],
  );
  const selectedId = useLocation().searchParams.get('case');
  const selected = Math.max(
    cases.findIndex((item) => item.approval_id === selectedId),
    0,
  );
  const [confirm, setConfirm] = useState<{ decision: Decision; item: ApprovalView } | null>(null);
  const [bulk, setBulk] = useState<Decision | null>(null);
  const [message, setMessage] = useState<DecisionReport | null>(null);

  const decide = async (decision: Decision, item: ApprovalView) => {
    try {
      const result = await api.decide(decision, { approval_id: item.approval_id });
      setMessage(report(decision, result));
    } catch (error) {
      const summary =
        error instanceof ApiError ? `${VERB[decision]} refused: ${error.message}` : String(error);
      setMessage({ summary, cases: [] });
    }
    await client.invalidateQueries({ queryKey: ['approvals'] });
    await client.invalidateQueries({ queryKey: ['agents'] });
  };

  // Keyboard: only when no dialog or text field has the focus.
  useEffect(() => {
    const select = (index: number) => {
      const item = cases[index];
      if (item !== undefined) setSearchParam('case', item.approval_id);
    };
    const onKey = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement;
      if (target.closest('input, textarea, select, dialog') || event.metaKey || event.ctrlKey || event.altKey)
        return;
      if (event.key === '?') return onHelp();
      if (event.key === 'j') select(Math.min(selected + 1, cases.length - 1));
      if (event.key === 'k') select(Math.max(selected - 1, 0));
      const item = cases[Math.min(selected, cases.length - 1)];
      if (!canDecide || item === undefined) return;
      const decision: Decision | undefined =
        item.status === 'pending'
          ? ({ a: 'approve', r: 'reject' } as Record<string, Decision>)[event.key]
          : event.key === 'h'
            ? 'heal'
            : undefined;
      if (decision !== undefined) {
        event.preventDefault();
        setConfirm({ decision, item });
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [cases, selected, canDecide, onHelp]);

  return (
    <section aria-labelledby="queue-title" className="queue">
      <div className="section-head">
        <h2 id="queue-title">Cases waiting for a decision</h2>
        {canDecide && (pending.data?.approvals.length ?? 0) > 0 && (
          <>
            <button type="button" onClick={() => setBulk('approve')}>
              {BULK_VERB.approve}…
            </button>
            <button type="button" onClick={() => setBulk('reject')}>
              {BULK_VERB.reject}…
            </button>
          </>
        )}
        {canDecide && (rejected.data?.approvals.length ?? 0) > 0 && (
          <button type="button" onClick={() => setBulk('heal')}>
            {BULK_VERB.heal}…
          </button>
        )}
      </div>
      {message && (
        <div role="status" className="message">
          <p data-testid="decision-message">{message.summary}</p>
          {message.cases.length > 1 && (
            <ul className="outcomes" data-testid="decision-results">
              {message.cases.map((item) => (
                <li key={item.approval_id} data-outcome={item.outcome}>
                  {item.agent_id}: {item.outcome === 'decided' ? 'decided' : 'already decided'} ({item.detail}
                  )
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
      {cases.length === 0 ? (
        <p className="empty">No case is waiting.</p>
      ) : (
        <ul className="cases">
          {cases.map((item, index) => (
            <CaseCard
              key={item.approval_id}
              item={item}
              selected={index === selected}
              canDecide={canDecide}
              onDecide={(decision) => void decide(decision, item)}
            />
          ))}
        </ul>
      )}
      {confirm && (
        <ConfirmDialog
          title={`${VERB[confirm.decision]} the case of ${confirm.item.agent_id}?`}
          confirmLabel={VERB[confirm.decision]}
          onClose={() => setConfirm(null)}
          onConfirm={() => void decide(confirm.decision, confirm.item)}
        />
      )}
      {bulk && <BulkDialog decision={bulk} onClose={() => setBulk(null)} onDone={setMessage} />}
    </section>
  );
}

function CaseCard({
  item,
  selected,
  canDecide,
  onDecide,
}: {
  item: ApprovalView;
  selected: boolean;
  canDecide: boolean;
  onDecide: (decision: Decision) => void;
}) {
  const top = item.hypotheses[0];
  return (
    <li
      className={`case ${item.severity}${selected ? ' selected' : ''}`}
      aria-current={selected ? 'true' : undefined}
      data-testid={`case-${item.agent_id}`}
      data-status={item.status}
    >
      <h3>
        <a
          href={`/agents/${encodeURIComponent(item.agent_id)}`}
          onClick={(event) => {
            event.preventDefault();
            navigate(`/agents/${encodeURIComponent(item.agent_id)}`);
          }}
        >
          {item.agent_id}
        </a>{' '}
        <span className={`severity ${item.severity}`}>{item.severity}</span>{' '}
        <span className="status">{item.status}</span>
      </h3>
      <p>
        {item.anomalies.join(', ')} · worst deviation {item.max_deviation.toFixed(1)} σ
      </p>
      {top && (
        <p>
          Likely cause: <strong>{top.type}</strong> ({Math.round(top.confidence * 100)} %)
        </p>
      )}
      {item.decided_by && (
        <p className="decided">
          {item.status} by {item.decided_by}
          {item.note ? `: ${item.note}` : ''}
        </p>
      )}
      {canDecide && (
        <div className="actions">
          {item.status === 'pending' && (
            <>
              <button type="button" className="primary" onClick={() => onDecide('approve')}>
                Approve
              </button>
              <button type="button" onClick={() => onDecide('reject')}>
                Reject
              </button>
            </>
          )}
          {item.status === 'rejected' && (
            <button type="button" className="primary" onClick={() => onDecide('heal')}>
              Heal now
            </button>
          )}
        </div>
      )}
    </li>
  );
}
