import { type Bus, DEFAULT_PUBLISHER_OPTIONS, type Provider, VitalPublisher } from '@immune/bus';
import { loadPricing } from '@immune/core';
import type { Logger } from '@immune/runtime';
import type { Meter } from '@opentelemetry/api';
import { Agent, type Dispatcher } from 'undici';
import type { GatewayConfig } from './config.js';
import { QuarantineView } from './enforcement/quarantine-view.js';
import { RetryTracker } from './extract/retry-tracker.js';
import { GatewayConfigStore } from './gateway-config-store.js';
import { FleetLimits } from './policy/fleet-limits.js';
import { PolicyEngine } from './policy/policy-engine.js';
import { createProxy } from './proxy/proxy-call.js';
import { ProviderRegistry } from './routing/providers.js';
import { AgentDirectory } from './state/agent-directory.js';
import { GatewayMetrics } from './vitals/gateway-metrics.js';

export interface GatewayDeps {
  config: GatewayConfig;
  bus: Bus;
  logger: Logger;
  meter?: Meter;
  env?: Readonly<Record<string, string | undefined>>;
}

/** Everything the gateway's routes use, wired once. `start` loads the shared config and quarantine state. */
export interface Gateway {
  readonly config: GatewayConfig;
  readonly bus: Bus;
  readonly registry: ProviderRegistry;
  readonly policies: PolicyEngine;
  readonly configStore: GatewayConfigStore;
  readonly quarantine: QuarantineView;
  readonly directory: AgentDirectory;
  readonly publisher: VitalPublisher;
  /** Answers a proxied request and returns true, or returns false for a path it does not serve. */
  readonly proxy: ReturnType<typeof createProxy>;
  start(): Promise<void>;
  /** Flushes buffered vitals and stops watching; the HTTP server must already be closed. */
  close(): Promise<void>;
}

export function defaultProviders(config: GatewayConfig): Provider[] {
  return [
    { name: 'openai', kind: 'openai', base_url: config.LLM_UPSTREAM_URL },
    { name: 'anthropic', kind: 'anthropic', base_url: config.ANTHROPIC_UPSTREAM_URL },
    { name: 'ollama', kind: 'ollama', base_url: config.OLLAMA_UPSTREAM_URL },
  ];
}

export function createGateway(deps: GatewayDeps): Gateway {
  const { config, bus, logger } = deps;
  const registry = new ProviderRegistry({ openai: 'openai', anthropic: 'anthropic', ollama: 'ollama' });
  const limits = new FleetLimits(logger);
  const policies = new PolicyEngine(limits);
  const configStore = new GatewayConfigStore(
    {
      providers: [...defaultProviders(config), ...config.GATEWAY_PROVIDERS],
      routes: config.GATEWAY_ROUTES,
      policies: config.GATEWAY_POLICIES,
    },
    registry,
    policies,
  );
  const quarantine = new QuarantineView();
  const directory = new AgentDirectory();
  const metrics = new GatewayMetrics(deps.meter);
  let droppedSinceLog = 0;
  const publisher = new VitalPublisher(bus, {
    capacity: config.GATEWAY_VITALS_BUFFER,
    retryMs: 250,
    lingerMs: DEFAULT_PUBLISHER_OPTIONS.lingerMs,
    onDropped: (count) => {
      metrics.vitalDropped(count);
      if (droppedSinceLog++ % 1000 === 0) {
        logger.error(
          { dropped_total: publisher.stats.dropped },
          'vitals buffer full while the bus is down: dropping the oldest vitals',
        );
      }
    },
    onError: (error) => logger.debug({ err: error }, 'vital publish failed; buffered for retry'),
  });
  const dispatcher: Dispatcher = new Agent({
    connections: config.GATEWAY_UPSTREAM_CONNECTIONS,
    keepAliveTimeout: 30_000,
    headersTimeout: config.GATEWAY_UPSTREAM_HEADERS_TIMEOUT_MS,
    bodyTimeout: config.GATEWAY_UPSTREAM_BODY_TIMEOUT_MS,
  });
  const proxy = createProxy({
    registry,
    policies,
    quarantine,
    directory,
    publisher,
    retries: new RetryTracker(config.GATEWAY_RETRY_WINDOW_MS),
    pricing: loadPricing(config.GATEWAY_PRICING_FILE),
    identity: { order: config.GATEWAY_IDENTITY_ORDER, header: config.GATEWAY_AGENT_HEADER.toLowerCase() },
    dispatcher,
    bus,
    logger,
    metrics,
    env: deps.env ?? process.env,
    headersTimeoutMs: config.GATEWAY_UPSTREAM_HEADERS_TIMEOUT_MS,
    bodyTimeoutMs: config.GATEWAY_UPSTREAM_BODY_TIMEOUT_MS,
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
  });
  metrics.observe({ publisher, quarantine });

  return {
    config,
    bus,
    registry,
    policies,
    configStore,
    quarantine,
    directory,
    publisher,
    proxy,
    async start() {
      await configStore.start(bus);
      await quarantine.start(bus);
      await limits.start(bus);
    },
    async close() {
      await publisher.close(5_000);
      await limits.close();
      await quarantine.stop();
      await configStore.stop();
      await dispatcher.close();
    },
  };
}
