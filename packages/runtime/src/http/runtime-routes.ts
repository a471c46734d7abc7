import type { Readiness } from '../lifecycle/readiness.js';
import { type MetricsSource, PROMETHEUS_CONTENT_TYPE } from '../telemetry/prometheus-metrics.js';
import type { HttpServer } from './types.js';

export const RUNTIME_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Probe and scrape routes. They log only warnings and worse: a kubelet probing every few seconds would
 * otherwise be most of a service's log volume.
 */
export function registerRuntimeRoutes(app: HttpServer, readiness: Readiness, metrics: MetricsSource): void {
  // Liveness says only that the event loop answers; dependencies belong to readiness, or a broken database
  // would make the orchestrator restart every instance at once.
  app.get('/healthz', { logLevel: 'warn' }, async () => ({ status: 'ok' }));

  app.get('/readyz', { logLevel: 'warn' }, async (_request, reply) => {
    const report = await readiness.report();
    const status = report.ready ? 'ready' : report.state === 'ready' ? 'unavailable' : report.state;
    return reply
      .code(report.ready ? 200 : 503)
      .header('cache-control', 'no-store')
      .send({ status, ...(report.checks ? { checks: report.checks } : {}) });
  });

  app.get('/metrics', { logLevel: 'warn' }, async (_request, reply) => {
    const text = await metrics.scrape();
    return reply.type(PROMETHEUS_CONTENT_TYPE).header('cache-control', 'no-store').send(text);
  });
}
