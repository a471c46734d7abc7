import type { Meter } from '@opentelemetry/api';
import { DURATION_BUCKETS_SECONDS, instruments } from '../telemetry/instruments.js';
import { RUNTIME_PATHS } from './runtime-routes.js';
import type { HttpServer } from './types.js';

/**
 * Request count and latency per method, route pattern and status. The route pattern (`/agents/:id`), never the
 * raw URL, keeps label cardinality bounded.
 */
export function registerRequestMetrics(app: HttpServer, meter: Meter): void {
  const make = instruments(meter);
  const requests = make.counter('http_server_requests', { description: 'HTTP requests completed' });
  const duration = make.histogram('http_server_request_duration_seconds', {
    description: 'HTTP request duration until the response finished',
    unit: 's',
    buckets: DURATION_BUCKETS_SECONDS,
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url;
    if (route !== undefined && RUNTIME_PATHS.has(route)) return;
    const labels = {
      method: request.method,
      route: route ?? 'unmatched',
      status_code: String(reply.statusCode),
    };
    requests.add(1, labels);
    duration.record(reply.elapsedTime / 1000, labels);
  });
}
