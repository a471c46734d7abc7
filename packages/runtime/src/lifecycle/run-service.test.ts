import { describe, expect, it } from 'vitest';
import { createHttpServer } from '../http/create-http-server.js';
import { createPrometheusMetrics } from '../telemetry/prometheus-metrics.js';
import { captureLogs } from '../testing.js';
import { runService } from './run-service.js';

describe('runService inside a process it does not own', () => {
  it('marks ready after start, listens, and shuts everything down in order on stop', async () => {
    const logs = captureLogs({ service: 'demo' });
    const metrics = createPrometheusMetrics({ serviceName: 'demo' });
    const ran: string[] = [];
    let port = 0;
    const service = await runService({
      name: 'demo',
      logger: logs.logger,
      ownProcess: false,
      telemetry: { shutdown: async () => void ran.push('telemetry') },
      async start(context) {
        context.shutdown.onPoolClose(() => void ran.push('pool'));
        context.shutdown.onBusDrain(() => void ran.push('bus'));
        const server = createHttpServer({ logger: context.logger, readiness: context.readiness, metrics });
        server.get('/hello', async () => ({ hello: 'world' }));
        port = await context.listen(server, { host: '127.0.0.1', port: 0 });
        expect(context.readiness.state).toBe('starting');
      },
    });
    expect(service.context.readiness.state).toBe('ready');
    expect(port).toBeGreaterThan(0);
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(ready.status).toBe(200);

    const report = await service.stop('test over');
    expect(report.ok).toBe(true);
    expect(ran).toEqual(['bus', 'pool', 'telemetry']);
    expect(service.context.readiness.state).toBe('draining');
    expect(service.context.draining.aborted).toBe(true);
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
    const events = logs
      .entries()
      .map((entry) => entry.event)
      .filter(Boolean);
    expect(events).toEqual([
      'http-listening',
      'service-ready',
      'shutdown-started',
      'http-closed',
      'bus-drained',
      'pool-closed',
      'telemetry-flushed',
      'shutdown-complete',
    ]);
  });

  it('releases what start registered when start fails, then rethrows', async () => {
    const logs = captureLogs();
    let poolClosed = false;
    await expect(
      runService({
        name: 'broken',
        logger: logs.logger,
        ownProcess: false,
        async start(context) {
          context.shutdown.onPoolClose(() => {
            poolClosed = true;
          });
          throw new Error('migrations failed');
        },
      }),
    ).rejects.toThrow('migrations failed');
    expect(poolClosed).toBe(true);
    expect(logs.find('start-failed')).toMatchObject({ level: 'fatal' });
  });
});
