import type { AddressInfo } from 'node:net';
import { connect, type Socket } from 'node:net';
import { Type } from 'typebox';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpEnv } from '../src/config/env-fragments.js';
import { loadConfig } from '../src/config/load-config.js';
import { createHttpServer } from '../src/http/create-http-server.js';
import { httpLimits } from '../src/http/server-limits.js';
import type { HttpServer } from '../src/http/types.js';
import { Readiness } from '../src/lifecycle/readiness.js';
import { createPrometheusMetrics } from '../src/telemetry/prometheus-metrics.js';
import { captureLogs, rawExchange, runAbuse } from '../src/testing.js';

const servers: HttpServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    const closing = server.close();
    server.server.closeAllConnections();
    await closing;
  }
});

const LIMITS_ENV = {
  HTTP_MAX_HEADER_BYTES: '4096',
  HTTP_HEADERS_TIMEOUT_MS: '1500',
  HTTP_REQUEST_TIMEOUT_MS: '2500',
  HTTP_MAX_CONNECTIONS: '400',
};

/** A listening server built the way services build theirs: limits from env through `httpLimits`. */
async function listening(env: Record<string, string> = LIMITS_ENV) {
  const config = loadConfig(Type.Object(HttpEnv), env);
  const limits = httpLimits(config);
  const metrics = createPrometheusMetrics({ serviceName: 'abuse' });
  const server = createHttpServer({
    logger: captureLogs({ level: 'silent' }).logger,
    readiness: new Readiness(),
    metrics,
    bodyLimitBytes: 64 * 1024,
    maxHeaderBytes: limits.maxHeaderBytes,
    maxConnections: limits.maxConnections,
    timeouts: limits.timeouts,
  });
  servers.push(server);
  server.post('/echo', { schema: { body: Type.Object({ n: Type.Integer() }) } }, async (request) => ({
    n: request.body.n,
  }));
  await server.listen({ host: '127.0.0.1', port: 0 });
  const port = (server.server.address() as AddressInfo).port;
  const probe = async () => {
    const response = await fetch(`http://127.0.0.1:${port}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"n":1}',
    });
    if (response.status !== 200) throw new Error(`probe got ${response.status}`);
    await response.arrayBuffer();
  };
  return { server, port, limits, probe, metrics };
}

describe('limits from env', () => {
  it('documents its defaults and derives the check interval from the headers timeout', () => {
    const limits = httpLimits(loadConfig(Type.Object(HttpEnv), {}));
    expect(limits).toEqual({
      maxHeaderBytes: 16_384,
      maxConnections: 10_000,
      timeouts: {
        headersTimeoutMs: 30_000,
        requestTimeoutMs: 120_000,
        keepAliveTimeoutMs: 72_000,
        idleSocketTimeoutMs: 0,
        timeoutCheckIntervalMs: 7_500,
      },
    });
  });

  it('applies them to the listening server', async () => {
    const { server } = await listening();
    expect((server.server as unknown as { maxHeaderSize: number }).maxHeaderSize).toBe(4096);
    expect(server.server.maxConnections).toBe(400);
    expect(server.server.headersTimeout).toBe(1500);
    expect(server.server.requestTimeout).toBe(2500);
  });
});

describe('raw-socket abuse', () => {
  it('refuses every abuse with a JSON 4xx or a close, and keeps serving', async () => {
    const { port, limits, probe, metrics } = await listening();
    const report = await runAbuse(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/echo',
        headers: { 'content-type': 'application/json' },
        body: '{"n":42}',
        maxHeaderBytes: limits.maxHeaderBytes,
        headersTimeoutMs: limits.timeouts.headersTimeoutMs,
        idleConnections: 200,
      },
      probe,
    );
    expect(report.cases).toBeGreaterThanOrEqual(20);
    expect(report.probesDuring).toBeGreaterThan(0);
    expect(report.idleConnections).toBe(200);
    expect(await metrics.scrape()).toMatch(/http_server_client_errors_total\{code="REQUEST_TIMEOUT"/);
  }, 90_000);

  it('names the problem in the refusal', async () => {
    const { port } = await listening();
    const big = await rawExchange({ host: '127.0.0.1', port }, [
      `GET /echo HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(5000)}\r\n\r\n`,
    ]);
    expect(big.responses[0]?.statusCode).toBe(431);
    expect(JSON.parse(big.responses[0]?.body ?? '')).toEqual({
      error: { code: 'HEADERS_TOO_LARGE', message: 'request line and headers are larger than 4096 bytes' },
    });
    const smuggled = await rawExchange({ host: '127.0.0.1', port }, [
      'POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n',
    ]);
    const error = JSON.parse(smuggled.responses[0]?.body ?? '').error;
    expect(error.code).toBe('MALFORMED_HTTP');
    expect(error.message).toContain('Content-Length');
    const slow = await rawExchange({ host: '127.0.0.1', port }, ['POST /echo HTTP/1.1\r\nhost: x\r\n']);
    expect(JSON.parse(slow.responses[0]?.body ?? '').error.message).toContain('headers within 1500 ms');
  }, 30_000);

  it('drops connections beyond HTTP_MAX_CONNECTIONS and serves again once idle ones are reaped', async () => {
    const { port, probe } = await listening({ ...LIMITS_ENV, HTTP_MAX_CONNECTIONS: '20' });
    const idle: Socket[] = [];
    const closedEarly: boolean[] = [];
    for (let i = 0; i < 25; i++) {
      const socket = connect({ host: '127.0.0.1', port });
      socket.on('error', () => undefined);
      const index = i;
      closedEarly[index] = false;
      socket.on('close', () => {
        closedEarly[index] = true;
      });
      idle.push(socket);
      await new Promise((resolve) => socket.once('connect', resolve));
    }
    // The server counts a connection once accepted; the ones past the limit are closed unanswered.
    const deadline = Date.now() + 20_000;
    while (closedEarly.filter(Boolean).length < 5 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect(closedEarly.slice(20).every(Boolean)).toBe(true);
    // The headers timeout reaps the 20 idle ones, after which a normal client is served again.
    let served = false;
    while (!served && Date.now() < deadline + 20_000) {
      served = await probe().then(
        () => true,
        () => false,
      );
    }
    expect(served).toBe(true);
    for (const socket of idle) socket.destroy();
  }, 60_000);
});
