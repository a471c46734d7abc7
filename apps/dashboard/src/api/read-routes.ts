import {
  ApprovalView,
  HEALER_AGENTS,
  HEALER_APPROVALS,
  HEALER_INFECTIONS,
  type ReplyOf,
  SENTINEL_LIFECYCLE,
} from '@immune/bus';
import { DIAGNOSIS_TYPES, HEALING_ACTIONS, LIFECYCLE_STATES, summarizeMemory } from '@immune/core';
import { ErrorResponse, HttpError, type HttpPlugin } from '@immune/runtime';
import type { Repositories } from '@immune/store';
import Type from 'typebox';
import type { Operator } from '../auth/operators.js';
import type { LiveHub } from '../live/live-hub.js';
import { bandHistory } from './band-history.js';
import type { CommandClient } from './command-client.js';
import { fleetTime } from './fleet-time.js';
import { AgentParams, IncidentParams, WindowQuery, windowMs } from './schemas.js';
import {
  AgentCard,
  AgentDetail,
  AgentSeries,
  CHARTED_METRICS,
  Incident,
  Overview,
  Patterns,
  SPARK_BUCKETS,
  type WindowFigures,
} from './views.js';

export interface ReadRouteOptions {
  commands: CommandClient;
  repos: Repositories;
  hub: LiveHub;
  now: () => number;
}

const errors = { '4xx': ErrorResponse, '5xx': ErrorResponse };

/** Everything the UI reads: each route answers from the healer's commands or PostgreSQL's read models. */
export const readRoutes: HttpPlugin<ReadRouteOptions> = async (app, { commands, repos, hub, now }) => {
  /** Calls, infections detected, healed and the healing success rate over [since, until). */
  const windowFigures = async (since: number, until: number): Promise<WindowFigures> => {
    const [calls, infections, timelines] = await Promise.all([
      repos.vitals.count({ since, until }),
      repos.infections.list({ since, until, limit: 10_000 }),
      repos.lifecycleEvents.timelines({ since, until }),
    ]);
    const healed = infections.filter((infection) => infection.status === 'resolved').length;
    const exhausted = infections.filter((infection) => infection.status === 'exhausted').length;
    return {
      calls,
      infections: infections.length,
      healed,
      healing_success_rate: healed + exhausted === 0 ? null : healed / (healed + exhausted),
      ...fleetTime(timelines, until),
    };
  };
  /**
   * The sentinel's view of an agent's triage state (probation, learned baselines); an agent it never saw has
   * none. It only adds to a page, so a sentinel not answering leaves it out instead of failing the page.
   */
  const sentinelView = (agentId: string, operator: Operator) =>
    commands.send(SENTINEL_LIFECYCLE, { agent_id: agentId }, operator).catch((error: unknown) => {
      if (error instanceof HttpError && (error.statusCode === 404 || error.code === 'SERVICE_UNAVAILABLE'))
        return undefined;
      throw error;
    });

  app.get(
    '/api/overview',
    {
      schema: {
        tags: ['fleet'],
        summary: 'Headline figures over a window, and the fleet-wide causes active now',
        querystring: WindowQuery,
        response: { 200: Overview, ...errors },
      },
    },
    async (request) => {
      const window = windowMs(request.query.window);
      const until = now();
      const since = until - window;
      const [{ agents }, current, previous] = await Promise.all([
        commands.send(HEALER_AGENTS, {}, request.operator!),
        windowFigures(since, until),
        windowFigures(since - window, since),
      ]);
      const byState = Object.fromEntries(LIFECYCLE_STATES.map((state) => [state, 0])) as Record<
        string,
        number
      >;
      for (const agent of agents) byState[agent.state] = (byState[agent.state] ?? 0) + 1;
      return {
        window: request.query.window ?? '1h',
        window_ms: window,
        generated_at: now(),
        agents: {
          total: agents.length,
          quarantined: agents.filter((agent) => agent.quarantined).length,
          by_state: byState,
        },
        ...current,
        previous,
        fleet: hub.activeFleetCauses(now()),
      };
    },
  );

  /**
   * The cards of the healer's agents: registry details, the latest case's severity and top diagnosis, and the
   * worst-σ sparkline over the window. Three queries, whatever the fleet's size.
   */
  const agentCards = async (
    agents: ReplyOf<typeof HEALER_AGENTS>['agents'],
    window: number,
  ): Promise<AgentCard[]> => {
    const bucketMs = Math.ceil(window / SPARK_BUCKETS);
    const until = now();
    const since = until - bucketMs * SPARK_BUCKETS;
    const latest = agents.flatMap((agent) => (agent.infection_id === null ? [] : [agent.infection_id]));
    const [stored, cases, buckets] = await Promise.all([
      // One agent's page reads its own row, the grid the whole registry.
      agents.length === 1
        ? repos.agents.get(agents[0]!.agent_id).then((agent) => (agent === undefined ? [] : [agent]))
        : repos.agents.list({ limit: 10_000 }),
      repos.infections.getMany(latest),
      repos.sigmaBuckets.worstByBucket({
        since,
        until,
        bucketMs,
        ...(agents.length === 1 ? { agentId: agents[0]!.agent_id } : {}),
      }),
    ]);
    const details = new Map(stored.map((agent) => [agent.id, agent]));
    const infections = new Map(cases.map((infection) => [infection.id, infection]));
    const sparks = new Map<string, number[]>();
    for (const { agent_id, bucket, sigma } of buckets) {
      if (bucket < 0 || bucket >= SPARK_BUCKETS) continue;
      const spark = sparks.get(agent_id) ?? new Array<number>(SPARK_BUCKETS).fill(0);
      // Below the baseline is not a deviation worth a spark: the line shows how far above normal it went.
      spark[bucket] = Math.max(0, sigma);
      sparks.set(agent_id, spark);
    }
    return agents.map((agent) => {
      const detail = details.get(agent.agent_id);
      const infection = agent.infection_id === null ? undefined : infections.get(agent.infection_id);
      return {
        ...agent,
        name: detail?.name ?? null,
        model: detail?.model ?? null,
        mcp_servers: detail?.mcp_servers ?? [],
        tags: detail?.tags ?? [],
        severity: infection?.severity ?? null,
        diagnosis: infection?.diagnosis?.hypotheses[0]?.type ?? null,
        sigma: sparks.get(agent.agent_id) ?? new Array<number>(SPARK_BUCKETS).fill(0),
      };
    });
  };

  app.get(
    '/api/agents',
    {
      schema: {
        tags: ['fleet'],
        summary:
          'Every agent with its state, quarantine, latest case (severity, top diagnosis) and worst-σ sparkline over the window',
        querystring: WindowQuery,
        response: { 200: Type.Object({ agents: Type.Array(AgentCard) }), ...errors },
      },
    },
    async (request) => {
      const { agents } = await commands.send(HEALER_AGENTS, {}, request.operator!);
      return { agents: await agentCards(agents, windowMs(request.query.window)) };
    },
  );

  app.get(
    '/api/agents/:agentId',
    {
      schema: {
        tags: ['fleet'],
        summary:
          'One agent: lifecycle history, infections with their ladders, healing history, recent vitals',
        params: AgentParams,
        response: { 200: AgentDetail, ...errors },
      },
    },
    async (request) => {
      const agentId = request.params.agentId;
      const [{ agents }, lifecycle, { infections }, healing, recent, sentinel] = await Promise.all([
        commands.send(HEALER_AGENTS, {}, request.operator!),
        repos.lifecycleEvents.history(agentId),
        commands.send(HEALER_INFECTIONS, { agent_id: agentId, limit: 50 }, request.operator!),
        repos.healingActions.forAgent(agentId, { limit: 100 }),
        repos.vitals.recent(agentId, { limit: 50 }),
        sentinelView(agentId, request.operator!),
      ]);
      const row = agents.find((agent) => agent.agent_id === agentId);
      if (row === undefined) throw new HttpError(404, 'AGENT_NOT_FOUND', `no agent ${agentId}`);
      const [card] = await agentCards([row], windowMs(undefined));
      return {
        agent: card!,
        lifecycle,
        infections,
        healing: healing.map(({ updated_at: _updated, ...attempt }) => attempt),
        recent_vitals: recent,
        probation: sentinel?.probation ?? null,
      };
    },
  );

  app.get(
    '/api/agents/:agentId/series',
    {
      schema: {
        tags: ['fleet'],
        summary: "An agent's metrics over a window, with its lifecycle changes and cures as annotations",
        params: AgentParams,
        querystring: WindowQuery,
        response: { 200: AgentSeries, ...errors },
      },
    },
    async (request) => {
      const agentId = request.params.agentId;
      const to = now();
      const from = to - windowMs(request.query.window);
      const [vitals, lifecycle, healing, sentinel, buckets] = await Promise.all([
        repos.vitals.between({ from, to: to + 1, agentId, limit: 5000 }),
        repos.lifecycleEvents.history(agentId),
        repos.healingActions.forAgent(agentId, { limit: 200 }),
        sentinelView(agentId, request.operator!),
        repos.sigmaBuckets.forAgent(agentId, { since: from, until: to + 1 }),
      ]);
      return {
        from,
        to,
        series: {
          ts: vitals.map((vital) => vital.ts),
          values: Object.fromEntries(
            CHARTED_METRICS.map((metric) => [metric, vitals.map((vital) => vital[metric])]),
          ),
        },
        lifecycle: lifecycle.filter((transition) => transition.ts >= from),
        healing: healing
          .filter((attempt) => attempt.ts >= from)
          .map(({ updated_at: _updated, ...attempt }) => attempt),
        baselines: sentinel?.baselines ?? null,
        bands: bandHistory(buckets, sentinel?.baselines?.kind),
      };
    },
  );

  app.get(
    '/api/approvals',
    {
      schema: {
        tags: ['approvals'],
        summary: 'Cases by approval status (pending by default), with their evidence',
        querystring: Type.Object(
          {
            status: Type.Optional(
              Type.Union([
                Type.Literal('pending'),
                Type.Literal('rejected'),
                Type.Literal('approved'),
                Type.Literal('cancelled'),
              ]),
            ),
            agent_id: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ approvals: Type.Array(ApprovalView) }), ...errors },
      },
    },
    async (request) =>
      commands.send(
        HEALER_APPROVALS,
        {
          status: request.query.status ?? 'pending',
          ...(request.query.agent_id === undefined ? {} : { agent_id: request.query.agent_id }),
          limit: 1000,
        },
        request.operator!,
      ),
  );

  app.get(
    '/api/incidents/:infectionId',
    {
      schema: {
        tags: ['incidents'],
        summary: 'One incident: detection, diagnosis, approval, each rung of the ladder, lifecycle since',
        params: IncidentParams,
        response: { 200: Incident, ...errors },
      },
    },
    async (request) => {
      const { infections } = await commands.send(
        HEALER_INFECTIONS,
        {
          infection_id: request.params.infectionId,
        },
        request.operator!,
      );
      const infection = infections[0];
      if (infection === undefined) {
        throw new HttpError(404, 'INCIDENT_NOT_FOUND', `no incident ${request.params.infectionId}`);
      }
      const [{ approvals }, lifecycle, sentinel] = await Promise.all([
        commands
          .send(HEALER_APPROVALS, { agent_id: infection.agent_id, limit: 1000 }, request.operator!)
          .then(async (pending) => {
            if (pending.approvals.some((a) => a.infection_id === infection.infection_id)) return pending;
            // Decided cases are not "pending": look through the other statuses.
            const lists = await Promise.all(
              (['approved', 'rejected', 'cancelled'] as const).map((status) =>
                commands.send(
                  HEALER_APPROVALS,
                  { status, agent_id: infection.agent_id, limit: 1000 },
                  request.operator!,
                ),
              ),
            );
            return { approvals: lists.flatMap((list) => list.approvals) };
          }),
        repos.lifecycleEvents.history(infection.agent_id),
        sentinelView(infection.agent_id, request.operator!),
      ]);
      return {
        infection,
        approval: approvals.find((a) => a.infection_id === infection.infection_id) ?? null,
        lifecycle: lifecycle.filter((transition) => transition.ts >= infection.ts - 60_000),
        probation: sentinel?.probation ?? null,
      };
    },
  );

  app.get(
    '/api/agents/:agentId/lifecycle',
    {
      schema: {
        tags: ['fleet'],
        summary: "The sentinel's view of the agent's lifecycle (state now, with history)",
        params: AgentParams,
        response: { 200: SENTINEL_LIFECYCLE.reply, ...errors },
      },
    },
    async (request) =>
      commands.send(SENTINEL_LIFECYCLE, { agent_id: request.params.agentId }, request.operator!),
  );

  app.get(
    '/api/patterns',
    {
      schema: {
        tags: ['memory'],
        summary: 'Learned patterns: for each diagnosis and cure, how often it worked across the fleet',
        querystring: WindowQuery,
        response: { 200: Patterns, ...errors },
      },
    },
    async (request) => {
      const since = request.query.window === undefined ? undefined : now() - windowMs(request.query.window);
      const memory = summarizeMemory(await repos.immuneMemory.list(since === undefined ? {} : { since }));
      const cells = [...memory.fleet].map(([key, counts]) => {
        const [diagnosis, action] = key.split('/') as [string, string];
        return { diagnosis, action, ...counts };
      });
      return { diagnoses: [...DIAGNOSIS_TYPES], actions: [...HEALING_ACTIONS], cells };
    },
  );
};
