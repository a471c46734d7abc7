import { request as httpRequest } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import type { Meter } from '@opentelemetry/api';
import { Type } from 'typebox';
import { afterEach, describe, expect, it } from 'vitest';
import { Readiness } from '../lifecycle/readiness.js';
import { instruments } from '../telemetry/instruments.js';
import { createPrometheusMetrics } from '../telemetry/prometheus-metrics.js';
import { captureLogs } from '../testing.js';
import { createHttpServer, type HttpServerOptions } from './create-http-server.js';
import { HttpError } from './http-error.js';
import type { HttpPlugin, HttpServer } from './types.js';

const CreateCompletion = Type.Object({
  model: Type.String({ minLength: 1 }),
  max_tokens: Type.Optional(Type.Integer({ minimum: 1 })),
});

/** A service's routes, packaged the way services do it: a plugin with its dependencies as options. */
const demoApp: HttpPlugin<{ greeting: string; meter: Meter }> = async (app, options) => {
  const make = instruments(options.meter);
  const completions = make.counter('demo_completions', { description: 'completions served' });

  app.post('/v1/completions', { schema: { body: CreateCompletion } }, async (request) => {
    completions.add(1, { model: request.body.model });
    return { text: `${options.greeting} ${request.body.model}`, max: request.body.max_tokens ?? null };
  });
  app.get(
    '/agents',
    { schema: { querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 100 }) }) } },
    async (request) => ({ limit: request.query.limit }),
  );
  app.get('/boom', async () => {
    throw new Error('connect ECONNREFUSED postgres://immune:pw-internal@10.0.0.5/immune');
  });
  app.get('/missing-agent', async () => {
    throw new HttpError(404, 'AGENT_NOT_FOUND', 'agent a-1 is not registered', { agentId: 'a-1' });
  });
};

const servers: HttpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function build(overrides: Partial<HttpServerOptions> = {}) {
  const logs = captureLogs();
  const readiness = new Readiness();
  const metrics = createPrometheusMetrics({ serviceName: 'demo' });
  const server = createHttpServer({ logger: logs.logger, readiness, metrics, ...overrides });
  await server.register(demoApp, { greeting: 'hello', meter: metrics.meter('demo') });
  await server.ready();
  servers.push(server);
  return { server, readiness, logs, metrics };
}

describe('health and readiness', () => {
  it('answers /healthz with 200 at all times', async () => {
    const { server, readiness } = await build();
    expect((await server.inject('/healthz')).statusCode).toBe(200);
    readiness.markDraining();
    const response = await server.inject('/healthz');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'ok' });
  });

  it('answers /readyz with 503 until ready, 200 when ready, and 503 again once draining', async () => {
    const { server, readiness } = await build();
    const before = await server.inject('/readyz');
    expect(before.statusCode).toBe(503);
    expect(before.json()).toEqual({ status: 'starting' });

    readiness.markReady();
    const ready = await server.inject('/readyz');
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready' });

    readiness.markDraining();
    const draining = await server.inject('/readyz');
    expect(draining.statusCode).toBe(503);
    expect(draining.headers['content-type']).toMatch(/application\/json/);
    expect(draining.json()).toEqual({ status: 'draining' });

    readiness.markReady();
    expect((await server.inject('/readyz')).statusCode).toBe(503);
  });

  it('fails readiness while a dependency check fails, and names it', async () => {
    const { server, readiness } = await build();
    let busConnected = false;
    readiness.addCheck('bus', () => busConnected);
    readiness.addCheck('store', async () => {
      throw new Error('down');
    });
    readiness.markReady();
    const response = await server.inject('/readyz');
    expect(response.statusCode).toBe(503);
    expect(response.json()).toEqual({ status: 'unavailable', checks: { bus: 'failing', store: 'failing' } });
    busConnected = true;
    readiness.addCheck('store', () => true);
    expect((await server.inject('/readyz')).json()).toEqual({
      status: 'ready',
      checks: { bus: 'ok', store: 'ok' },
    });
  });
});

describe('errors', () => {
  it('returns JSON 404 for unknown routes', async () => {
    const { server } = await build();
    const response = await server.inject('/nope?x=1');
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({ error: { code: 'NOT_FOUND', message: 'no route for GET /nope' } });
  });

  it('returns 400 for a body that is not JSON', async () => {
    const { server } = await build();
    const response = await server.inject({
      method: 'POST',
      url: '/v1/completions',
      headers: { 'content-type': 'application/json' },
      payload: '{"model": "gpt',
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({
      error: { code: 'INVALID_JSON', message: 'request body is not valid JSON' },
    });
  });

  it('returns 413 for a body over the configured limit', async () => {
    const { server } = await build({ bodyLimitBytes: 1024 });
    const response = await server.inject({
      method: 'POST',
      url: '/v1/completions',
      payload: { model: 'x'.repeat(2000) },
    });
    expect(response.statusCode).toBe(413);
    expect(response.json().error).toEqual({
      code: 'PAYLOAD_TOO_LARGE',
      message: 'request body is larger than 1024 bytes',
    });
  });

  it('returns 400 naming the invalid field of a body and of a query string', async () => {
    const { server } = await build();
    const missing = await server.inject({
      method: 'POST',
      url: '/v1/completions',
      payload: { max_tokens: 5 },
    });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().error).toMatchObject({
      code: 'VALIDATION_FAILED',
      message: 'invalid request: body.model is required',
      details: [{ field: 'body.model', message: 'is required' }],
    });

    const wrongType = await server.inject({
      method: 'POST',
      url: '/v1/completions',
      payload: { model: 'gpt-4o', max_tokens: 0 },
    });
    expect(wrongType.statusCode).toBe(400);
    expect(wrongType.json().error.details[0].field).toBe('body.max_tokens');
    expect(wrongType.json().error.message).toContain('body.max_tokens must be >= 1');

    const query = await server.inject('/agents?limit=abc');
    expect(query.statusCode).toBe(400);
    expect(query.json().error.details[0].field).toBe('querystring.limit');
  });

  it('accepts a valid body and types it from the schema', async () => {
    const { server } = await build();
    const response = await server.inject({
      method: 'POST',
      url: '/v1/completions',
      payload: { model: 'gpt-4o' },
    });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ text: 'hello gpt-4o', max: null });
    expect((await server.inject('/agents?limit=7')).json()).toEqual({ limit: 7 });
  });

  it('hides the internals of a 500 from the client and logs them', async () => {
    const { server, logs } = await build();
    const response = await server.inject('/boom');
    expect(response.statusCode).toBe(500);
    expect(response.json()).toEqual({ error: { code: 'INTERNAL_ERROR', message: 'internal server error' } });
    expect(response.body).not.toContain('pw-internal');
    expect(response.body).not.toContain('ECONNREFUSED');
    expect(response.body).not.toContain('at ');
    const logged = logs.find('request failed');
    expect(logged?.level).toBe('error');
    expect(JSON.stringify(logged)).toContain('ECONNREFUSED');
    expect(JSON.stringify(logged)).toContain('stack');
  });

  it('passes an HttpError through with its status, code and details', async () => {
    const { server } = await build();
    const response = await server.inject('/missing-agent');
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({
      error: { code: 'AGENT_NOT_FOUND', message: 'agent a-1 is not registered', details: { agentId: 'a-1' } },
    });
  });
});

describe('request ids', () => {
  it('echoes a well-formed x-request-id and generates one otherwise', async () => {
    const { server } = await build();
    const given = await server.inject({ url: '/healthz', headers: { 'x-request-id': 'abc-123' } });
    expect(given.headers['x-request-id']).toBe('abc-123');
    const bad = await server.inject({ url: '/healthz', headers: { 'x-request-id': 'a b\u0000c' } });
    expect(bad.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('/metrics', () => {
  it('serves Prometheus text with service counters and request metrics', async () => {
    const { server } = await build();
    for (let i = 0; i < 3; i++)
      await server.inject({ method: 'POST', url: '/v1/completions', payload: { model: 'gpt-4o' } });
    await server.inject('/nope');
    const response = await server.inject('/metrics');
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(response.body).toContain('# TYPE demo_completions_total counter');
    expect(response.body).toMatch(/demo_completions_total\{model="gpt-4o"[^}]*\} 3/);
    expect(response.body).toMatch(
      /http_server_requests_total\{method="POST",route="\/v1\/completions",status_code="200"[^}]*\} 3/,
    );
    expect(response.body).toMatch(
      /http_server_requests_total\{method="GET",route="unmatched",status_code="404"/,
    );
    expect(response.body).toContain('http_server_request_duration_seconds_bucket');
    expect(response.body).not.toContain('route="/healthz"');
  });
});

describe('timeouts on a listening server', () => {
  it('applies the documented socket timeouts', async () => {
    const { server } = await build();
    expect(server.server.requestTimeout).toBe(120_000);
    expect(server.server.headersTimeout).toBe(30_000);
    expect(server.server.keepAliveTimeout).toBe(72_000);
    expect(server.server.timeout).toBe(0);
  });

  async function shortTimeoutServer(): Promise<{ server: HttpServer; port: number }> {
    const server = createHttpServer({
      logger: captureLogs().logger,
      readiness: new Readiness(),
      metrics: createPrometheusMetrics({ serviceName: 'sse' }),
      timeouts: { requestTimeoutMs: 300, headersTimeoutMs: 300, timeoutCheckIntervalMs: 50 },
    });
    servers.push(server);
    server.post('/upload', async () => ({ ok: true }));
    server.get('/stream', (_request, reply) => {
      reply.hijack();
      reply.raw.writeHead(200, { 'content-type': 'text/event-stream' });
      let sent = 0;
      const timer = setInterval(() => {
        sent += 1;
        reply.raw.write(`data: ${sent}\n\n`);
        if (sent === 8) {
          clearInterval(timer);
          reply.raw.end();
        }
      }, 150);
    });
    await server.listen({ host: '127.0.0.1', port: 0 });
    return { server, port: (server.server.address() as AddressInfo).port };
  }

  it('cuts a client that sends its request body too slowly', async () => {
    const { port } = await shortTimeoutServer();
    const socket = connect({ host: '127.0.0.1', port });
    socket.write(
      'POST /upload HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"a"',
    );
    const started = Date.now();
    const reply = await new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (chunk) => {
        text += chunk;
      });
      socket.on('close', () => resolve(text));
    });
    expect(reply).toContain('408');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('keeps a response stream open far longer than the request timeout', async () => {
    const { port } = await shortTimeoutServer();
    const started = Date.now();
    const body = await new Promise<string>((resolve, reject) => {
      httpRequest({ host: '127.0.0.1', port, path: '/stream' }, (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk) => {
          text += chunk;
        });
        response.on('end', () => resolve(text));
        response.on('error', reject);
      })
        .on('error', reject)
        .end();
    });
    expect(Date.now() - started).toBeGreaterThan(1000);
    expect(body.match(/data: /g)).toHaveLength(8);
  });
});
