import { useQuery } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { api, type Incident } from './api.js';
import { FeedbackForm } from './FeedbackForm.js';
import { Link } from './Link.js';
import { PROBATION_REFRESH_MS, ProbationCountdown } from './Probation.js';

type Step = { key: string; title: string; ts: number | null; body: ReactNode; done: boolean };

const time = (ts: number | null) => (ts === null ? '' : new Date(ts).toLocaleTimeString());

/**
 * The story of one incident, in order: detected → diagnosed → approval → each rung of the ladder → probation →
 * verdict. Built from the healer's infection (with its ladder), its approval and the sentinel's lifecycle
 * transitions since; the live stream invalidates it on every event, so it moves on as the case does.
 */
export function IncidentPage({ infectionId, canDecide }: { infectionId: string; canDecide: boolean }) {
  const incident = useQuery({
    queryKey: ['incident', infectionId],
    queryFn: () => api.incident(infectionId),
    refetchInterval: (query) => (query.state.data?.probation ? PROBATION_REFRESH_MS : false),
  });
  if (incident.isError) return <p role="alert">{incident.error.message}</p>;
  if (incident.data === undefined) return <p className="loading">Loading…</p>;
  const { infection } = incident.data;
  return (
    <article aria-labelledby="incident-title">
      <h2 id="incident-title">Incident of {infection.agent_id}</h2>
      <p className="meta">
        {infection.infection_id} ·{' '}
        <Link to={`/agents/${encodeURIComponent(infection.agent_id)}`}>agent page</Link>
      </p>
      <ol className="story">
        {steps(incident.data).map((step) => (
          <li key={step.key} data-testid={`incident-${step.key}`} className={step.done ? 'done' : 'waiting'}>
            <h3>
              {step.title} <span className="meta">{time(step.ts)}</span>
            </h3>
            <div>{step.body}</div>
          </li>
        ))}
      </ol>
      {canDecide && <FeedbackForm target={{ infection_id: infection.infection_id }} />}
    </article>
  );
}

function steps({ infection, approval, lifecycle, probation: progress }: Incident): Step[] {
  const top = infection.hypotheses[0];
  const list: Step[] = [
    {
      key: 'detected',
      title: 'Detected',
      ts: infection.ts,
      done: true,
      body: (
        <>
          <span className={`severity ${infection.severity}`}>{infection.severity}</span>:{' '}
          {infection.anomalies.join(', ')}, worst deviation {infection.max_deviation.toFixed(1)} σ
        </>
      ),
    },
    {
      key: 'diagnosed',
      title: 'Diagnosed',
      ts: null,
      done: top !== undefined,
      body:
        infection.hypotheses.length === 0
          ? 'no hypothesis yet'
          : infection.hypotheses.map((h) => `${h.type} (${Math.round(h.confidence * 100)} %)`).join(', '),
    },
    {
      key: 'approval',
      title: 'Approval',
      ts: approval?.decided_at ?? null,
      done: approval === null || approval.status !== 'pending',
      body:
        approval === null
          ? 'not needed (mild: healed without asking)'
          : approval.status === 'pending'
            ? 'waiting for an operator'
            : `${approval.status} by ${approval.decided_by ?? 'nobody'}${approval.note ? `: ${approval.note}` : ''}`,
    },
    ...infection.attempts.map((attempt) => ({
      key: `rung-${attempt.step}`,
      title: `Rung ${attempt.step + 1}: ${attempt.action}`,
      ts: attempt.ts,
      done: attempt.status === 'succeeded' || attempt.status === 'failed',
      body: `${attempt.status}${attempt.detail ? ` (${attempt.detail})` : ''}, for ${attempt.diagnosis}`,
    })),
  ];
  const probation = lifecycle.filter((t) => t.to === 'PROBATION').at(-1);
  const after = probation && lifecycle.find((t) => t.from === 'PROBATION' && t.seq > probation.seq);
  list.push({
    key: 'probation',
    title: 'Probation',
    ts: probation?.ts ?? null,
    done: after !== undefined,
    body:
      probation === undefined ? (
        'not started'
      ) : after === undefined ? (
        progress ? (
          <ProbationCountdown probation={progress} />
        ) : (
          'watching clean vitals'
        )
      ) : after.to === 'HEALTHY' ? (
        'passed'
      ) : (
        `ended: ${after.to} (${after.trigger})`
      ),
  });
  const closed = ['resolved', 'exhausted', 'dismissed'].includes(infection.status);
  list.push({
    key: 'verdict',
    title: 'Verdict',
    ts: after?.ts ?? null,
    done: closed,
    body: closed ? infection.status : `open (${infection.status})`,
  });
  return list;
}
