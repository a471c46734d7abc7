import {
  type ApprovalView,
  type DecisionReply,
  HEALER_APPROVALS,
  HEALER_APPROVE,
  HEALER_FEEDBACK,
  HEALER_HEAL,
  HEALER_QUARANTINE,
  HEALER_REJECT,
  HEALER_RELEASE,
} from '@immune/bus';
import { DiagnosisType } from '@immune/core';
import { ErrorResponse, HttpError, type HttpPlugin } from '@immune/runtime';
import Type from 'typebox';
import type { Operator } from '../auth/operators.js';
import { requireOperator } from '../auth/request-auth.js';
import type { CommandClient } from './command-client.js';
import {
  AgentParams,
  CaseStatus,
  type Decision,
  DecisionBody,
  DecisionParams,
  ReasonBody,
} from './schemas.js';
import { DecisionPreview, DecisionResult } from './views.js';

const COMMANDS = { approve: HEALER_APPROVE, reject: HEALER_REJECT, heal: HEALER_HEAL } as const;
/**
 * The approval status each bulk decision takes (a selection or `all`): approve and reject take pending cases;
 * Heal all takes rejected ones only (a pending case is approved instead), and says so to the healer with its
 * `status` filter, so a pending case is never healed by a bulk heal.
 */
const BULK_STATUS: Record<Decision, CaseStatus> = {
  approve: 'pending',
  reject: 'pending',
  heal: 'rejected',
};

const errors = { '4xx': ErrorResponse, '5xx': ErrorResponse };

/**
 * Every change the dashboard can make, each one `immune.cmd.*` command sent with the logged-in operator's
 * token (the healer checks it and records its name; the browser never names the operator). Viewers get 403
 * here already, and the healer would refuse them too.
 */
export const actionRoutes: HttpPlugin<{ commands: CommandClient }> = async (app, { commands }) => {
  const bulkTargets = async (status: CaseStatus, operator: Operator): Promise<ApprovalView[]> =>
    (await commands.send(HEALER_APPROVALS, { status, limit: 1000 }, operator)).approvals;

  app.post(
    '/api/decisions/:decision/preview',
    {
      onRequest: requireOperator,
      schema: {
        tags: ['approvals'],
        summary: 'What a bulk decision would do, case by case, before it is made',
        params: DecisionParams,
        body: Type.Object(
          { all: Type.Literal(true), status: Type.Optional(CaseStatus) },
          { additionalProperties: false },
        ),
        response: { 200: DecisionPreview, ...errors },
      },
    },
    async (request) => {
      const cases = await bulkTargets(
        request.body.status ?? BULK_STATUS[request.params.decision],
        request.operator!,
      );
      const counts = new Map<string, number>();
      for (const item of cases) {
        const cause = item.hypotheses[0]?.type ?? 'unknown';
        counts.set(cause, (counts.get(cause) ?? 0) + 1);
      }
      return {
        decision: request.params.decision,
        cases,
        approval_ids: cases.map((item) => item.approval_id),
        summary: [...counts]
          .map(([diagnosis, count]) => ({ diagnosis, count }))
          .sort((a, b) => b.count - a.count),
      };
    },
  );

  app.post(
    '/api/decisions/:decision',
    {
      onRequest: requireOperator,
      schema: {
        tags: ['approvals'],
        summary:
          'Approve, reject or heal now: one case (agent_id, approval_id, infection_id), a selection (approval_ids) or all',
        params: DecisionParams,
        body: DecisionBody,
        response: { 200: DecisionResult, ...errors },
      },
    },
    async (request) => {
      const body = request.body;
      const given = [body.agent_id, body.approval_id, body.infection_id, body.approval_ids, body.all].filter(
        (value) => value !== undefined,
      );
      if (given.length !== 1) {
        throw new HttpError(
          400,
          'VALIDATION_FAILED',
          'invalid request: body must name exactly one of agent_id, approval_id, infection_id, approval_ids, all',
          [{ field: 'body', message: 'must name exactly one target' }],
        );
      }
      const command = COMMANDS[request.params.decision];
      const operator = request.operator!.name;
      const note = body.note === undefined ? {} : { note: body.note };
      const bulk = { status: body.status ?? BULK_STATUS[request.params.decision] };
      const single = body.status === undefined ? {} : { status: body.status };
      if (body.approval_ids !== undefined) {
        // One command per case, so each reports its own outcome (decided, or already decided by someone else).
        const replies = await Promise.all(
          body.approval_ids.map((approvalId) =>
            commands
              .send(command, { approval_id: approvalId, ...bulk, ...note }, request.operator!)
              .catch((error: unknown): DecisionReply => {
                if (error instanceof HttpError && error.statusCode === 404) {
                  return {
                    decided: [],
                    unchanged: [
                      {
                        approval_id: approvalId,
                        agent_id: '',
                        status: 'missing',
                        reason: 'no such approval',
                      },
                    ],
                  };
                }
                throw error;
              }),
          ),
        );
        return {
          decided: replies.flatMap((reply) => reply.decided),
          unchanged: replies.flatMap((reply) => reply.unchanged),
        };
      }
      const target =
        body.agent_id !== undefined
          ? { agent_id: body.agent_id, ...single }
          : body.approval_id !== undefined
            ? { approval_id: body.approval_id, ...single }
            : body.infection_id !== undefined
              ? { infection_id: body.infection_id, ...single }
              : { all: true, ...bulk };
      request.log.info(
        { event: 'decision', decision: request.params.decision, operator, target },
        'operator decision',
      );
      return commands.send(command, { ...target, ...note }, request.operator!);
    },
  );

  app.post(
    '/api/feedback',
    {
      onRequest: requireOperator,
      schema: {
        tags: ['feedback'],
        summary:
          "Label an infection's true cause (the agent's latest, or one by id): later diagnoses learn from it",
        body: Type.Object(
          {
            infection_id: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
            agent_id: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
            true_cause: DiagnosisType,
          },
          { additionalProperties: false },
        ),
        response: { 200: HEALER_FEEDBACK.reply, ...errors },
      },
    },
    async (request) => {
      const { infection_id, agent_id, true_cause } = request.body;
      if ((infection_id === undefined) === (agent_id === undefined)) {
        throw new HttpError(
          400,
          'VALIDATION_FAILED',
          'invalid request: give exactly one of body.infection_id, body.agent_id',
          [{ field: 'body.infection_id', message: 'or body.agent_id is required, not both' }],
        );
      }
      return commands.send(
        HEALER_FEEDBACK,
        {
          ...(infection_id === undefined ? { agent_id: agent_id! } : { infection_id }),
          true_cause,
        },
        request.operator!,
      );
    },
  );

  /** Quarantine and release take the same request: the agent in the path, an optional reason in the body. */
  const containment = (request: {
    params: { agentId: string };
    body: { reason?: string };
    operator?: Operator;
  }) => ({
    agent_id: request.params.agentId,
    ...(request.body.reason === undefined ? {} : { reason: request.body.reason }),
  });
  const containmentSchema = { tags: ['fleet'], params: AgentParams, body: ReasonBody };
  app.post(
    '/api/agents/:agentId/quarantine',
    {
      onRequest: requireOperator,
      schema: {
        ...containmentSchema,
        summary: 'Quarantine an agent now (the gateway refuses its calls)',
        response: { 200: HEALER_QUARANTINE.reply, ...errors },
      },
    },
    async (request) => commands.send(HEALER_QUARANTINE, containment(request), request.operator!),
  );
  app.post(
    '/api/agents/:agentId/release',
    {
      onRequest: requireOperator,
      schema: {
        ...containmentSchema,
        summary: 'Release an agent: open cases are cancelled and cures reverted',
        response: { 200: HEALER_RELEASE.reply, ...errors },
      },
    },
    async (request) => commands.send(HEALER_RELEASE, containment(request), request.operator!),
  );
};
