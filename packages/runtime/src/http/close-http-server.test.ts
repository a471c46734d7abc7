import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Readiness } from '../lifecycle/readiness.js';
import { createPrometheusMetrics } from '../telemetry/prometheus-metrics.js';
import { captureLogs } from '../testing.js';
import { closeHttpServer } from './close-http-server.js';
import { createHttpServer } from './create-http-server.js';

async function listeningServer() {
  const server = createHttpServer({
    logger: captureLogs().logger,
    readiness: new Readiness(),
    metrics: createPrometheusMetrics({ serviceName: 'close' }),
  });
  server.get('/slow', async () => {
    await new Promise((resolve) => setTimeout(resolve, 300));
    return { done: true };
  });
  server.get('/hang', () => new Promise(() => {}));
  await server.listen({ host: '127.0.0.1', port: 0 });
  return { server, port: (server.server.address() as AddressInfo).port };
}

function rawExchange(
  port: number,
  requests: string,
): { received: Promise<string>; send(text: string): void } {
  const socket = connect({ host: '127.0.0.1', port });
  socket.write(requests);
  const received = new Promise<string>((resolve) => {
    let text = '';
    socket.on('data', (chunk) => {
      text += chunk;
    });
    socket.on('close', () => resolve(text));
  });
  return { received, send: (text) => socket.write(text) };
}

describe('closeHttpServer', () => {
  it('lets an in-flight request finish and answers a request arriving on its connection with 503', async () => {
    const { server, port } = await listeningServer();
    const exchange = rawExchange(port, 'GET /slow HTTP/1.1\r\nhost: x\r\n\r\n');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const closing = closeHttpServer(server, new AbortController().signal);
    await new Promise((resolve) => setTimeout(resolve, 50));
    exchange.send('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n');
    const text = await exchange.received;
    await closing;
    const [first, second] = text.split(/(?=HTTP\/1\.1 )/);
    expect(first).toMatch(/^HTTP\/1\.1 200/);
    expect(first).toContain('{"done":true}');
    expect(second).toMatch(/^HTTP\/1\.1 503/);
    expect(second?.toLowerCase()).toContain('connection: close');
    expect(second).toContain('"code":"SHUTTING_DOWN"');
  });

  it('cuts requests that are still running when its signal aborts', async () => {
    const { server, port } = await listeningServer();
    const exchange = rawExchange(port, 'GET /hang HTTP/1.1\r\nhost: x\r\n\r\n');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const controller = new AbortController();
    const closing = closeHttpServer(server, controller.signal);
    setTimeout(() => controller.abort(), 100);
    await closing;
    expect(await exchange.received).toBe('');
  });
});
