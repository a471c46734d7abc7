import swagger from '@fastify/swagger';
import {
  type Bus,
  BusNoRespondersError,
  BusTimeoutError,
  type CommandDef,
  commandFailure,
  HEALER_QUARANTINE,
  HEALER_RELEASE,
  Policy,
  Provider,
  QuarantineEntry,
  Route,
  SENTINEL_LIFECYCLE,
} from '@immune/bus';
import { LifecycleState, Vital } from '@immune/core';
import { loadOperatorTokens } from '@immune/runtime';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import Type, { type Static, type TSchema } from 'typebox';
import type { Gateway } from '../gateway.js';
import type { FleetView } from './fleet-view.js';
import { operatorAuth } from './operator-auth.js';

const ErrorBody = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String() }),
});

const AgentSummary = Type.Object({
  agent_id: Type.String(),
  identity: Type.String(),
  first_seen: Type.Integer(),
  last_seen: Type.Integer(),
  requests: Type.Integer(),
  errors: Type.Integer(),
  input_tokens: Type.Integer(),
  output_tokens: Type.Integer(),
  cost: Type.Number(),
  last_model: Type.Optional(Type.String()),
  quarantined: Type.Boolean(),
  open_calls: Type.Integer(),
});

/** One agent in the fleet view: the directory (PostgreSQL), its calls in the window, and the quarantine bucket. */
const FleetAgentView = Type.Object({
  agent_id: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
  model: Type.Union([Type.String(), Type.Null()]),
  state: LifecycleState,
  first_seen: Type.Integer(),
  last_seen: Type.Integer(),
  requests: Type.Integer(),
  errors: Type.Integer(),
  total_tokens: Type.Number(),
  cost: Type.Number(),
  quarantined: Type.Boolean(),
});

const FleetQuery = Type.Object(
  {
    /** Start of the window the call counts cover, epoch ms; default the last 24 hours. */
    since: Type.Optional(Type.Integer({ minimum: 0 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
  },
  { additionalProperties: false },
);
const DEFAULT_WINDOW_MS = 24 * 3_600_000;

const AgentIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 256 }) });
const NameParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 64 }) });
const RouteParams = Type.Object({ agent_id: Type.String({ minLength: 1, maxLength: 256 }) });

const QuarantineRequest = Type.Object(
  {
    /** Why; without one the healer records "quarantined by <operator>". */
    reason: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
  },
  { additionalProperties: false },
);

const security = [{ operatorToken: [] }];

/** The healer's manual containment holds the agent's enforcers too, which may take a few seconds. */
const COMMAND_TIMEOUT_MS = 10_000;

/**
 * The seed's management API under /api/gateway, behind the operator token, described by OpenAPI at
 * /api/gateway/openapi.json. Writes go to the shared KV buckets, so every replica applies them at once.
 */
/** Sends a healer command for the operator behind `request`; on failure answers for it and returns undefined. */
async function relay<Req extends TSchema, Rep extends TSchema>(
  reply: FastifyReply,
  request: FastifyRequest,
  command: CommandDef<Req, Rep>,
  body: Static<Req>,
  bus: Bus,
): Promise<Static<Rep> | undefined> {
  try {
    return await bus.request(command, body, {
      timeoutMs: COMMAND_TIMEOUT_MS,
      ...(request.gatewayOperator === undefined ? {} : { operatorToken: request.gatewayOperator.token }),
    });
  } catch (error) {
    const failure = commandFailure(error, command);
    if (failure === undefined) throw error;
    await reply.code(failure.status).send({ error: { code: failure.code, message: failure.message } });
    return undefined;
  }
}

export const managementRoutes: FastifyPluginAsync<{
  gateway: Gateway;
  fleet: FleetView | undefined;
}> = async (app, { gateway, fleet }) => {
  await app.register(swagger, {
    openapi: {
      info: { title: 'Immune gateway management API', version: '1' },
      components: { securitySchemes: { operatorToken: { type: 'http', scheme: 'bearer' } } },
    },
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  app.register(async (secured) => {
    secured.addHook('onRequest', operatorAuth(loadOperatorTokens(gateway.config)));

    // The fleet's view (PostgreSQL, the same answer from every replica) under the plain names; what this
    // replica has seen under /replica.
    const fleetUnavailable = (reply: FastifyReply) =>
      reply.code(503).send({
        error: {
          code: 'fleet_view_unavailable',
          message:
            'the fleet view reads PostgreSQL: set DATABASE_URL on the gateway (/api/gateway/replica/* answers what this replica has seen)',
        },
      });
    const windowStart = (query: { since?: number }) => query.since ?? Date.now() - DEFAULT_WINDOW_MS;

    secured.get(
      '/agents',
      {
        schema: {
          security,
          querystring: FleetQuery,
          response: {
            200: Type.Object({ since: Type.Integer(), agents: Type.Array(FleetAgentView) }),
            503: ErrorBody,
          },
        },
      },
      async (request, reply) => {
        if (fleet === undefined) return fleetUnavailable(reply);
        const query = request.query as Static<typeof FleetQuery>;
        const since = windowStart(query);
        const agents = await fleet.agents(since, query.limit ?? 1000);
        return {
          since,
          agents: agents.map((agent) => ({
            ...agent,
            quarantined: gateway.quarantine.blockOf(agent.agent_id) !== undefined,
          })),
        };
      },
    );

    secured.get(
      '/stats',
      { schema: { security, querystring: FleetQuery, response: { 503: ErrorBody } } },
      async (request, reply) => {
        if (fleet === undefined) return fleetUnavailable(reply);
        const since = windowStart(request.query as Static<typeof FleetQuery>);
        return {
          since,
          ...(await fleet.totals(since)),
          quarantined: gateway.quarantine.list().length,
          providers: gateway.registry.listProviders().length,
          routes: gateway.registry.listRoutes().length,
          policies: gateway.policies.list().length,
        };
      },
    );

    secured.get(
      '/agent/:id/vitals',
      {
        schema: {
          security,
          params: AgentIdParams,
          querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) }),
          response: {
            200: Type.Object({ agent_id: Type.String(), vitals: Type.Array(Vital) }),
            404: ErrorBody,
            503: ErrorBody,
          },
        },
      },
      async (request, reply) => {
        if (fleet === undefined) return fleetUnavailable(reply);
        const { id } = request.params as { id: string };
        const { limit } = request.query as { limit?: number };
        const vitals = await fleet.recentVitals(id, limit ?? 100);
        if (vitals === undefined) {
          return reply
            .code(404)
            .send({ error: { code: 'unknown_agent', message: `the fleet has no agent '${id}'` } });
        }
        return { agent_id: id, vitals };
      },
    );

    secured.get(
      '/replica/agents',
      { schema: { security, response: { 200: Type.Object({ agents: Type.Array(AgentSummary) }) } } },
      async () => ({
        agents: gateway.directory.list().map((agent) => ({
          ...agent,
          quarantined: gateway.quarantine.blockOf(agent.agent_id) !== undefined,
          open_calls: gateway.quarantine.openCalls(agent.agent_id),
        })),
      }),
    );

    secured.get('/replica/stats', { schema: { security } }, async () => ({
      ...gateway.directory.totals(),
      quarantined: gateway.quarantine.list().length,
      providers: gateway.registry.listProviders().length,
      routes: gateway.registry.listRoutes().length,
      policies: gateway.policies.list().length,
      vitals: gateway.publisher.stats,
      bus: gateway.bus.status,
    }));

    secured.get(
      '/replica/agent/:id/vitals',
      {
        schema: {
          security,
          params: AgentIdParams,
          response: {
            200: Type.Object({ agent_id: Type.String(), vitals: Type.Array(Vital) }),
            404: ErrorBody,
          },
        },
      },
      async (request, reply) => {
        const { id } = request.params as { id: string };
        if (!gateway.directory.get(id)) {
          return reply
            .code(404)
            .send({ error: { code: 'unknown_agent', message: `this gateway has not seen agent '${id}'` } });
        }
        return { agent_id: id, vitals: gateway.directory.recentVitals(id) };
      },
    );

    secured.get(
      '/quarantine',
      { schema: { security, response: { 200: Type.Object({ quarantined: Type.Array(QuarantineEntry) }) } } },
      async () => ({ quarantined: gateway.quarantine.list() }),
    );

    secured.get(
      '/quarantine/:id',
      { schema: { security, params: AgentIdParams, response: { 200: QuarantineEntry, 404: ErrorBody } } },
      async (request, reply) => {
        const { id } = request.params as { id: string };
        const entry = gateway.quarantine.blockOf(id);
        if (!entry)
          return reply
            .code(404)
            .send({ error: { code: 'not_quarantined', message: `agent '${id}' is not quarantined` } });
        return entry;
      },
    );

    // A hand quarantine or release is the healer's manual containment command, sent with the caller's token:
    // the healer verifies it, records the operator's name, closes or opens cases and lifts its cures, the same
    // as from the CLI or the dashboard. The entry is applied here at once too, so this replica refuses the
    // agent's next call before its bucket watch catches up.
    secured.post(
      '/quarantine/:id',
      {
        schema: {
          security,
          params: AgentIdParams,
          body: QuarantineRequest,
          response: { 200: QuarantineEntry, 201: QuarantineEntry, '4xx': ErrorBody, '5xx': ErrorBody },
        },
      },
      async (request, reply) => {
        const { id } = request.params as { id: string };
        const { reason } = request.body as { reason?: string };
        const answer = await relay(
          reply,
          request,
          HEALER_QUARANTINE,
          { agent_id: id, ...(reason === undefined ? {} : { reason }) },
          gateway.bus,
        );
        if (answer === undefined) return reply;
        gateway.quarantine.apply(id, answer.entry);
        return reply.code(answer.already ? 200 : 201).send(answer.entry);
      },
    );

    secured.delete(
      '/quarantine/:id',
      {
        schema: {
          security,
          params: AgentIdParams,
          response: { 204: Type.Null(), '4xx': ErrorBody, '5xx': ErrorBody },
        },
      },
      async (request, reply) => {
        const { id } = request.params as { id: string };
        const answer = await relay(reply, request, HEALER_RELEASE, { agent_id: id }, gateway.bus);
        if (answer === undefined) return reply;
        if (!answer.released)
          return reply
            .code(404)
            .send({ error: { code: 'not_quarantined', message: `agent '${id}' is not quarantined` } });
        gateway.quarantine.apply(id, undefined);
        return reply.code(204).send();
      },
    );

    secured.get(
      '/lifecycle/:id',
      { schema: { security, params: AgentIdParams, response: { 503: ErrorBody } } },
      async (request, reply) => {
        const { id } = request.params as { id: string };
        try {
          const lifecycle = await gateway.bus.request(
            SENTINEL_LIFECYCLE,
            { agent_id: id },
            { timeoutMs: 2_000 },
          );
          return { ...lifecycle, quarantine: gateway.quarantine.blockOf(id) ?? null };
        } catch (error) {
          if (error instanceof BusNoRespondersError || error instanceof BusTimeoutError) {
            return reply.code(503).send({
              error: {
                code: 'sentinel_unavailable',
                message: 'the sentinel, which owns agent lifecycles, did not answer',
              },
            });
          }
          throw error;
        }
      },
    );

    secured.get(
      '/providers',
      { schema: { security, response: { 200: Type.Object({ providers: Type.Array(Provider) }) } } },
      async () => ({ providers: gateway.registry.listProviders() }),
    );

    secured.get(
      '/providers/:name',
      { schema: { security, params: NameParams, response: { 200: Provider, 404: ErrorBody } } },
      async (request, reply) => {
        const { name } = request.params as { name: string };
        const provider = gateway.registry.listProviders().find((p) => p.name === name);
        if (!provider)
          return reply
            .code(404)
            .send({ error: { code: 'unknown_provider', message: `no provider '${name}'` } });
        return provider;
      },
    );

    secured.post(
      '/providers',
      { schema: { security, body: Provider, response: { 201: Provider } } },
      async (request, reply) => {
        const provider = request.body as Provider;
        await gateway.configStore.putProvider(provider);
        return reply.code(201).send(provider);
      },
    );

    secured.delete(
      '/providers/:name',
      {
        schema: {
          security,
          params: NameParams,
          response: { 204: Type.Null(), 404: ErrorBody, 409: ErrorBody },
        },
      },
      async (request, reply) => {
        const { name } = request.params as { name: string };
        if (await gateway.configStore.deleteProvider(name)) return reply.code(204).send();
        if (gateway.configStore.isBaseProvider(name)) {
          return reply.code(409).send({
            error: {
              code: 'deployment_provider',
              message: `provider '${name}' comes from the deployment's environment; change it there`,
            },
          });
        }
        return reply.code(404).send({
          error: { code: 'unknown_provider', message: `no provider '${name}' in the shared config` },
        });
      },
    );

    secured.get(
      '/routes',
      { schema: { security, response: { 200: Type.Object({ routes: Type.Array(Route) }) } } },
      async () => ({ routes: gateway.registry.listRoutes() }),
    );

    secured.post(
      '/routes',
      { schema: { security, body: Route, response: { 201: Route, 400: ErrorBody } } },
      async (request, reply) => {
        const route = request.body as Route;
        const unknown = [route.openai, route.anthropic, route.ollama].filter(
          (name): name is string =>
            name !== undefined && !gateway.registry.listProviders().some((p) => p.name === name),
        );
        if (unknown.length > 0) {
          return reply.code(400).send({
            error: { code: 'unknown_provider', message: `no provider named ${unknown.join(', ')}` },
          });
        }
        await gateway.configStore.putRoute(route);
        return reply.code(201).send(route);
      },
    );

    secured.delete(
      '/routes/:agent_id',
      { schema: { security, params: RouteParams, response: { 204: Type.Null(), 404: ErrorBody } } },
      async (request, reply) => {
        const { agent_id } = request.params as { agent_id: string };
        if (await gateway.configStore.deleteRoute(agent_id)) return reply.code(204).send();
        return reply.code(404).send({
          error: { code: 'unknown_route', message: `no route for '${agent_id}' in the shared config` },
        });
      },
    );

    secured.get(
      '/policies',
      { schema: { security, response: { 200: Type.Object({ policies: Type.Array(Policy) }) } } },
      async () => ({ policies: [...gateway.policies.list()] }),
    );
  });
};
