// Typed calls to the dashboard's own JSON API. The types come from the server's response schemas
// (src/api/views.ts, the healer's command catalog), imported as types only so no server code reaches the bundle.
import type { ApprovalView, HEALER_FEEDBACK } from '@immune/bus';
import type { DiagnosisType } from '@immune/core';
import type { Static } from 'typebox';
import type {
  AgentCard,
  AgentDetail,
  AgentSeries,
  DecisionPreview,
  DecisionResult,
  Incident,
  Overview,
  Patterns,
} from '../../src/api/views.js';
import type { OperatorView } from '../../src/auth/operator-view.js';

export type {
  AgentCard,
  AgentDetail,
  AgentSeries,
  ApprovalView,
  DecisionPreview,
  DecisionResult,
  Incident,
  Overview,
  Patterns,
};
export type Operator = Static<typeof OperatorView>;
export type Decision = 'approve' | 'reject' | 'heal';
/** Manual containment: the healer's quarantine and release commands. */
export type Containment = 'quarantine' | 'release';
export type FeedbackReply = Static<(typeof HEALER_FEEDBACK)['reply']>;
export type { DiagnosisType };
export type ApprovalStatus = 'pending' | 'rejected' | 'approved' | 'cancelled';

/** An API answer other than 2xx, with the server's error code and message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const response = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  const parsed: unknown = text === '' ? {} : JSON.parse(text);
  if (!response.ok) {
    const error = (parsed as { error?: { code?: string; message?: string } }).error;
    throw new ApiError(response.status, error?.code ?? 'HTTP_ERROR', error?.message ?? response.statusText);
  }
  return parsed as T;
}

export const api = {
  session: () => call<{ operator: Operator }>('GET', '/api/session'),
  login: (token: string) => call<{ operator: Operator }>('POST', '/api/session', { token }),
  logout: () => call<unknown>('DELETE', '/api/session'),
  overview: (window: string) => call<Overview>('GET', `/api/overview?window=${window}`),
  agents: (window: string) => call<{ agents: AgentCard[] }>('GET', `/api/agents?window=${window}`),
  agent: (id: string) => call<AgentDetail>('GET', `/api/agents/${encodeURIComponent(id)}`),
  series: (id: string, window: string) =>
    call<AgentSeries>('GET', `/api/agents/${encodeURIComponent(id)}/series?window=${window}`),
  patterns: () => call<Patterns>('GET', '/api/patterns'),
  incident: (id: string) => call<Incident>('GET', `/api/incidents/${encodeURIComponent(id)}`),
  approvals: (status: ApprovalStatus) =>
    call<{ approvals: ApprovalView[] }>('GET', `/api/approvals?status=${status}`),
  decide: (decision: Decision, target: { approval_id: string } | { approval_ids: string[] }) =>
    call<DecisionResult>('POST', `/api/decisions/${decision}`, target),
  preview: (decision: Decision) =>
    call<DecisionPreview>('POST', `/api/decisions/${decision}/preview`, { all: true }),
  contain: (action: Containment, id: string, reason?: string) =>
    call<unknown>(
      'POST',
      `/api/agents/${encodeURIComponent(id)}/${action}`,
      reason === undefined ? {} : { reason },
    ),
  feedback: (target: { agent_id: string } | { infection_id: string }, trueCause: DiagnosisType) =>
    call<FeedbackReply>('POST', '/api/feedback', { ...target, true_cause: trueCause }),
};
