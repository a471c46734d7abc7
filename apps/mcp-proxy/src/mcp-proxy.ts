import { type Bus, MCP_PENDING_BUCKET, VitalPublisher } from '@immune/bus';
import type { Vital } from '@immune/core';
import { instruments, type Logger } from '@immune/runtime';
import type { Meter } from '@opentelemetry/api';
import { Agent, type Dispatcher } from 'undici';
import { epochMs } from './clock.js';
import type { McpProxyConfig } from './config.js';
import { Correlator } from './correlator.js';
import { OriginGuard } from './enforcement/origin-guard.js';
import { QuarantineGuard } from './enforcement/quarantine-guard.js';
import { TokenBuckets } from './enforcement/token-buckets.js';
import { ToolPolicy } from './enforcement/tool-policy.js';
import { createProxyHandler } from './proxy/proxy-handler.js';
import { UpstreamTable } from './upstreams.js';

export interface McpProxyDeps {
  config: McpProxyConfig;
  bus: Bus;
  logger: Logger;
  meter?: Meter;
}

/** Everything the proxy's routes use, wired once. `start` loads quarantine state and tool policy. */
export interface McpProxy {
  readonly config: McpProxyConfig;
  readonly upstreams: UpstreamTable;
  readonly quarantine: QuarantineGuard;
  readonly policy: ToolPolicy;
  readonly correlator: Correlator;
  readonly publisher: VitalPublisher;
  readonly handler: ReturnType<typeof createProxyHandler>;
  start(): Promise<void>;
  /** Flushes buffered vitals and stops watching; the HTTP server must already be closed. */
  close(): Promise<void>;
}

export function createMcpProxy(deps: McpProxyDeps): McpProxy {
  const { config, bus, logger } = deps;
  const upstreams = UpstreamTable.fromConfig(config);
  const quarantine = new QuarantineGuard();
  const policy = new ToolPolicy();
  const make = deps.meter ? instruments(deps.meter) : undefined;
  const counters = make && {
    requests: make.counter('mcp_proxy_requests', { description: 'Proxied requests by outcome' }),
    vitals: make.counter('mcp_proxy_tool_calls', { description: 'Tool call vitals by outcome' }),
    dropped: make.counter('mcp_proxy_vitals_dropped', {
      description: 'Vitals dropped because the outage buffer was full',
    }),
  };
  let droppedSinceLog = 0;
  const publisher = new VitalPublisher(bus, {
    capacity: config.MCP_PROXY_VITALS_BUFFER,
    retryMs: 250,
    lingerMs: 5,
    onDropped: (count) => {
      counters?.dropped.add(count);
      if (droppedSinceLog++ % 1000 === 0)
        logger.error(
          { dropped_total: publisher.stats.dropped },
          'vitals buffer full while the bus is down: dropping the oldest',
        );
    },
    onError: (error) => logger.debug({ err: error }, 'vital publish failed; buffered for retry'),
  });
  const publish = (vital: Vital) => {
    counters?.vitals.add(1, { outcome: vital.success ? 'ok' : (vital.error_type ?? 'error') });
    publisher.submit(vital);
  };
  let pendingBucketFailing = false;
  const correlator = new Correlator({
    publish,
    bucket: undefined,
    now: epochMs,
    pendingTimeoutMs: config.MCP_PROXY_PENDING_TIMEOUT_MS,
    onError: (error, what) => {
      if (pendingBucketFailing) return;
      pendingBucketFailing = true;
      logger.warn(
        { err: error, what },
        'pending-call bucket unavailable: results seen by another replica may lose their vital',
      );
    },
  });
  const dispatcher: Dispatcher = new Agent({
    connections: config.MCP_PROXY_UPSTREAM_CONNECTIONS,
    keepAliveTimeout: 30_000,
    headersTimeout: config.MCP_PROXY_UPSTREAM_HEADERS_TIMEOUT_MS,
    bodyTimeout: 0,
  });
  const handler = createProxyHandler({
    upstreams,
    correlator,
    quarantine,
    policy,
    origins: new OriginGuard({
      bindHost: config.HOST,
      allowedHosts: config.MCP_PROXY_ALLOWED_HOSTS,
      allowedOrigins: config.MCP_PROXY_ALLOWED_ORIGINS,
    }),
    identity: { order: config.MCP_PROXY_IDENTITY_ORDER, header: config.MCP_PROXY_AGENT_HEADER.toLowerCase() },
    dispatcher,
    logger,
    metrics: { request: (outcome) => counters?.requests.add(1, { outcome }) },
    publish,
    now: epochMs,
    headersTimeoutMs: config.MCP_PROXY_UPSTREAM_HEADERS_TIMEOUT_MS,
    bodyTimeoutMs: config.MCP_PROXY_UPSTREAM_BODY_TIMEOUT_MS,
    clientStallMs: config.MCP_PROXY_CLIENT_STALL_MS,
    softCallsPerMinute: config.MCP_PROXY_SOFT_CALLS_PER_MINUTE,
    softLimiter: new TokenBuckets(),
  });

  return {
    config,
    upstreams,
    quarantine,
    policy,
    correlator,
    publisher,
    handler,
    async start() {
      correlator.useBucket(await bus.kv(MCP_PENDING_BUCKET));
      await quarantine.start(bus);
      await policy.start(bus);
    },
    async close() {
      correlator.close();
      await publisher.close(5_000);
      await quarantine.stop();
      await policy.stop();
      await dispatcher.close();
    },
  };
}
