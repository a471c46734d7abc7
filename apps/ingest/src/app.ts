import { type Bus, BusClosedError, BusUnavailableError } from '@immune/bus';
import { Pricing } from '@immune/core';
import { ErrorResponse, HttpError, type HttpPlugin } from '@immune/runtime';
import { instruments } from '@immune/runtime/telemetry';
import type { ApiKey } from '@immune/store';
import type { Meter } from '@opentelemetry/api';
import type { FastifyRequest } from 'fastify';
import Type from 'typebox';
import type { AgentDirectory } from './agent-directory.js';
import { type IngestLimits, parseIngestBody } from './ingest-body.js';
import { otlpTraceRoutes } from './otlp/route.js';

/** What the routes need to check a key: `ApiKeyVerifier`, or a stand-in in tests. */
export interface KeyVerifier {
  verify(key: string): Promise<ApiKey | undefined>;
}

export interface IngestAppOptions {
  bus: Bus;
  keys: KeyVerifier;
  agents: AgentDirectory;
  limits: IngestLimits;
  /** The OTLP/HTTP receiver: largest export in bytes (after decompression); the pricing table for span costs. */
  otlp?: { maxBytes?: number; pricing?: Pricing };
  meter?: Meter;
}

/** OTLP exporters batch up to 512 spans by default, well under this; a larger export is refused with 413. */
export const DEFAULT_OTLP_MAX_BYTES = 8 * 1024 * 1024;

export const RegisterBody = Type.Object(
  {
    agent_id: Type.String({ minLength: 1, maxLength: 256 }),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    model: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    mcp_servers: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { maxItems: 256 })),
    tags: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { maxItems: 256 })),
    /** Where the healer's agent-webhook executor posts reset / rollback / restart. */
    control_url: Type.Optional(
      Type.String({ format: 'uri', pattern: '^https?://', maxLength: 2048, description: 'http(s) URL' }),
    ),
    /** A local agent's process, for the signal executor. */
    pid: Type.Optional(Type.Integer({ minimum: 1, maximum: 2_147_483_647 })),
    metadata: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false },
);

const IngestReply = Type.Object({
  accepted: Type.Integer(),
  ids: Type.Array(Type.String()),
});

const AgentReply = Type.Object({
  agent: Type.Object({
    id: Type.String(),
    name: Type.Union([Type.String(), Type.Null()]),
    model: Type.Union([Type.String(), Type.Null()]),
    tags: Type.Array(Type.String()),
    mcp_servers: Type.Array(Type.String()),
    control_url: Type.Union([Type.String(), Type.Null()]),
    pid: Type.Union([Type.Integer(), Type.Null()]),
    state: Type.String(),
    first_seen: Type.Integer(),
    last_seen: Type.Integer(),
    metadata: Type.Record(Type.String(), Type.Unknown()),
  }),
  created: Type.Boolean(),
});

declare module 'fastify' {
  interface FastifyRequest {
    apiKey?: ApiKey;
  }
}

/**
 * The ingest API: `POST /api/v1/ingest` (one vital or a batch; all accepted or all refused) and
 * `POST /api/v1/agents/register`, both behind an API key.
 */
export const ingestApp: HttpPlugin<IngestAppOptions> = async (app, options) => {
  const { bus, keys, agents, limits } = options;
  const metrics = options.meter === undefined ? undefined : ingestMetrics(options.meter);

  app.decorateRequest('apiKey', undefined);
  // Before the body is even parsed: an unauthenticated client costs no parsing and learns nothing about it.
  app.addHook('onRequest', async (request, reply) => {
    const key = presentedKey(request);
    if (key === undefined) {
      metrics?.rejected.add(1, { reason: 'unauthorized' });
      reply.header('www-authenticate', 'Bearer');
      throw new HttpError(
        401,
        'UNAUTHORIZED',
        'an API key is required: send "Authorization: Bearer <key>" or "X-API-Key: <key>"',
      );
    }
    let found: ApiKey | undefined;
    try {
      found = await keys.verify(key);
    } catch (error) {
      request.log.error({ err: error }, 'ingest: cannot verify API keys');
      reply.header('retry-after', '1');
      throw new HttpError(503, 'KEYS_UNAVAILABLE', 'API keys cannot be checked right now; retry shortly');
    }
    if (found === undefined) {
      metrics?.rejected.add(1, { reason: 'unauthorized' });
      reply.header('www-authenticate', 'Bearer error="invalid_token"');
      throw new HttpError(401, 'UNAUTHORIZED', 'the API key is not valid (unknown or revoked)');
    }
    request.apiKey = found;
  });

  app.post(
    '/api/v1/ingest',
    {
      schema: {
        response: { 202: IngestReply, '4xx': ErrorResponse, '5xx': ErrorResponse },
      },
    },
    async (request, reply) => {
      const parsed = parseIngestBody(request.body, limits);
      if (!parsed.ok) {
        metrics?.rejected.add(1, { reason: parsed.code === 'TOO_MANY_VITALS' ? 'too_many' : 'invalid' });
        const summary = parsed.issues.map((issue) => `${issue.field} ${issue.message}`).join('; ');
        throw new HttpError(400, parsed.code, `invalid vitals: ${summary}`, parsed.issues);
      }
      const { vitals } = parsed;
      const sightings = new Map<string, number>();
      for (const vital of vitals) {
        if (!agents.isKnown(vital.agent_id))
          sightings.set(vital.agent_id, Math.max(vital.ts, sightings.get(vital.agent_id) ?? 0));
      }
      if (sightings.size > 0) await registerReported(sightings, agents, bus, request, 'ingest', 'reported');
      try {
        // Pipelined: every publish of the batch goes out at once, one wait for all the acks.
        await bus.publishVitals(vitals);
      } catch (cause) {
        if (cause instanceof BusUnavailableError || cause instanceof BusClosedError) {
          metrics?.rejected.add(1, { reason: 'bus_unavailable' });
          reply.header('retry-after', '1');
          // Some of the batch may be on the bus already. A retry with the same ids is deduplicated by the
          // stream and by the table's key, so the ids are handed back for exactly that.
          throw new HttpError(
            503,
            'BUS_UNAVAILABLE',
            'the vitals could not be queued; retry the same batch with the same ids',
            { ids: vitals.map((vital) => vital.id) },
          );
        }
        throw cause;
      }
      metrics?.accepted.add(vitals.length);
      return reply.code(202).send({ accepted: vitals.length, ids: vitals.map((vital) => vital.id) });
    },
  );

  await app.register(otlpTraceRoutes, {
    bus,
    pricing: options.otlp?.pricing ?? new Pricing(),
    maxBytes: options.otlp?.maxBytes ?? DEFAULT_OTLP_MAX_BYTES,
    async onAgents(sightings, request) {
      for (const agentId of sightings.keys()) if (agents.isKnown(agentId)) sightings.delete(agentId);
      if (sightings.size > 0) await registerReported(sightings, agents, bus, request, 'otlp', 'otlp');
    },
    onAccepted: (count) => metrics?.otlpSpans.add(count),
    onRejected: (reason) => metrics?.rejected.add(1, { reason }),
  });

  app.post(
    '/api/v1/agents/register',
    {
      schema: {
        body: RegisterBody,
        response: { 200: AgentReply, 201: AgentReply, '4xx': ErrorResponse, '5xx': ErrorResponse },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const { agent, created } = await agents.repository.register({
        ...body,
        id: body.agent_id,
        ts: Date.now(),
      });
      agents.remember(agent.id);
      if (created) {
        await bus
          .publishEvent('agent.discovered', agent.id, {
            agent_id: agent.id,
            source: 'ingest',
            identity: 'registered',
            ...(body.name === undefined ? {} : { name: body.name }),
            ...(body.model === undefined ? {} : { model: body.model }),
          })
          .catch((error: unknown) =>
            request.log.warn({ agent_id: agent.id, err: error }, 'ingest: could not announce a new agent'),
          );
      }
      return reply.code(created ? 201 : 200).send({ agent, created });
    },
  );
};

/**
 * Agents an ingest call names for the first time are put in `agents` and announced (`agent.discovered`). This
 * is best effort: the recorder registers every agent it writes vitals for as well, so a database hiccup here
 * must not refuse vitals.
 */
async function registerReported(
  sightings: Map<string, number>,
  agents: AgentDirectory,
  bus: Bus,
  request: FastifyRequest,
  source: 'ingest' | 'otlp',
  identity: 'reported' | 'otlp',
): Promise<void> {
  let created: string[];
  try {
    created = await agents.ensure(sightings);
  } catch (error) {
    request.log.warn({ err: error }, 'ingest: could not register new agents (the recorder will)');
    return;
  }
  await Promise.all(
    created.map((agentId) =>
      bus
        .publishEvent('agent.discovered', agentId, {
          agent_id: agentId,
          source,
          identity,
        })
        .catch((error: unknown) =>
          request.log.warn({ agent_id: agentId, err: error }, 'ingest: could not announce a new agent'),
        ),
    ),
  );
}

function presentedKey(request: FastifyRequest): string | undefined {
  const authorization = request.headers.authorization;
  if (typeof authorization === 'string' && /^bearer\s/i.test(authorization)) {
    const token = authorization.slice(7).trim();
    if (token !== '') return token;
  }
  const header = request.headers['x-api-key'];
  if (typeof header === 'string' && header.trim() !== '') return header.trim();
  return undefined;
}

function ingestMetrics(meter: Meter) {
  const make = instruments(meter);
  return {
    accepted: make.counter('ingest_vitals_accepted', { description: 'Vitals accepted over HTTP and queued' }),
    rejected: make.counter('ingest_requests_rejected', {
      description:
        'Ingest requests refused, by reason (invalid, too_many, unauthorized, bus_unavailable, 413, 415)',
    }),
    otlpSpans: make.counter('ingest_otlp_vitals_accepted', {
      description: 'Vitals made from OTLP spans (POST /v1/traces) and queued',
    }),
  };
}
