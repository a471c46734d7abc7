import { type Bus, HEALER_APPROVE, openBusFromEnv } from '@immune/bus';
import { DashboardEnv, startDashboard } from '@immune/dashboard';
import { GatewayEnv, startGateway } from '@immune/gateway';
import { HealerEnv, type HealingExecutor, startHealer } from '@immune/healer';
import { IngestEnv, startIngest } from '@immune/ingest';
import { McpProxyEnv, startMcpProxy } from '@immune/mcp-proxy';
import { MockUpstream } from '@immune/mock-upstream';
import {
  childContext,
  type EnvSource,
  hashOperatorToken,
  loadConfig,
  type MetricsRegistry,
  mintOperatorToken,
  operatorTokenLine,
  ownBus,
  ownStore,
  type ServiceContext,
} from '@immune/runtime';
import { SentinelEnv, startSentinel } from '@immune/sentinel';
import { openStoreFromEnv, type Store } from '@immune/store';
import { Chaos } from './chaos.js';
import type { SingleProcessConfig } from './config.js';
import { startDemoMcpServer } from './demo-mcp-server.js';
import { createFleet, type DemoAgent } from './fleet.js';
import { tellStory } from './story.js';

export interface SingleProcessOptions {
  config: SingleProcessConfig;
  /** Every service reads its own variables from here (process.env in `pnpm start`, a literal in tests). */
  env: EnvSource;
  metrics: MetricsRegistry;
  /** Where the story goes: stdout in `pnpm start`. */
  say: (line: string) => void;
}

/** What is running, for the console banner and for tests that drive the demo. */
export interface SingleProcess {
  bus: Bus;
  store: Store;
  gatewayUrl: string;
  /** The MCP proxy, in front of the demo MCP server when DEMO is on (MCP_UPSTREAM_URL otherwise). */
  mcpProxyUrl: string;
  /** The operators' dashboard (web app and API). */
  dashboardUrl: string;
  /**
   * The operator token made for this run (named `operator`), when no operator tokens were configured
   * (IMMUNE_OPERATOR_TOKENS / IMMUNE_OPERATOR_TOKENS_FILE): for the dashboard login and IMMUNE_OPERATOR_TOKEN.
   */
  dashboardToken: string | undefined;
  mock: MockUpstream | undefined;
  fleet: readonly DemoAgent[];
  chaos: Chaos | undefined;
}

/**
 * Every service in one process, on one bus and one store: the embedded bus and PGlite when NATS_URL and
 * DATABASE_URL are unset, or the real ones when they are set. With DEMO on, also a mock LLM upstream, a fleet of
 * real `openai` SDK agents calling the gateway, and the chaos schedule that makes them sick.
 *
 * Each service wires itself through the same `service.ts` function its own `main.ts` calls, so nothing here
 * is a second implementation; only the bus and the store are shared instead of opened once per service.
 */
export async function startSingleProcess(
  context: ServiceContext,
  options: SingleProcessOptions,
): Promise<SingleProcess> {
  const { config, metrics, say } = options;
  const { shutdown } = context;
  const child = (service: string) => childContext(context, service);

  // One store and one bus for every service: each service's own main.ts opens them the same way.
  const store = ownStore(context, await openStoreFromEnv(config, { logger: context.logger }));
  const bus = ownBus(context, await openBusFromEnv(config, 'immune'));

  let mock: MockUpstream | undefined;
  const env: Record<string, string | undefined> = { ...options.env };
  if (config.DEMO) {
    mock = await MockUpstream.start({ port: config.MOCK_UPSTREAM_PORT, record: 0 });
    const upstream = mock;
    shutdown.onPoolClose(() => upstream.close(), 'mock-upstream');
    // The demo's agents talk to the mock unless the operator points the gateway somewhere on purpose.
    env.LLM_UPSTREAM_URL ??= `${mock.url}/v1`;
    env.HEALER_EXECUTION ??= 'simulated';
    const tools = await startDemoMcpServer(config.DEMO_MCP_PORT);
    shutdown.onPoolClose(() => tools.close(), 'demo-mcp-server');
    env.MCP_UPSTREAM_URL ??= tools.url;
    env.MCP_UPSTREAM_NAME ??= 'demo-tools';
  }

  // Operator tokens: without configured ones, one for the person at the console and one for auto-approve,
  // both minted for this run and given to every service as hashes, like a deployment's.
  const autoApproveToken = mintOperatorToken();
  let dashboardToken: string | undefined;
  const lines = [
    operatorTokenLine({
      name: 'demo-auto-approve',
      role: 'operator',
      hash: hashOperatorToken(autoApproveToken),
    }),
  ];
  if (!env.IMMUNE_OPERATOR_TOKENS && !env.IMMUNE_OPERATOR_TOKENS_FILE) {
    dashboardToken = mintOperatorToken();
    lines.push(
      operatorTokenLine({ name: 'operator', role: 'operator', hash: hashOperatorToken(dashboardToken) }),
    );
  }
  env.IMMUNE_OPERATOR_TOKENS = [env.IMMUNE_OPERATOR_TOKENS, ...lines].filter(Boolean).join(',');

  const story = await tellStory(bus, say);
  shutdown.onStopWork(() => story.stop(), 'story');

  // The fleet needs the gateway's port and the healer needs the chaos for its cures: bound once both exist.
  const cures: { chaos?: Chaos } = {};
  await startSentinel(child('sentinel'), { config: loadConfig(SentinelEnv, env), bus, store, metrics });
  await startHealer(child('healer'), {
    config: loadConfig(HealerEnv, env),
    bus,
    store,
    metrics,
    ...(config.DEMO ? { executors: [chaosExecutor(cures)] } : {}),
  });
  await startIngest(child('ingest'), { config: loadConfig(IngestEnv, env), bus, store, metrics });
  const gateway = await startGateway(child('gateway'), {
    config: loadConfig(GatewayEnv, env),
    bus,
    store,
    metrics,
  });
  const gatewayUrl = `http://127.0.0.1:${gateway.port}`;
  const mcpProxy = await startMcpProxy(child('mcp-proxy'), {
    config: loadConfig(McpProxyEnv, env),
    bus,
    metrics,
  });
  const mcpProxyUrl = `http://127.0.0.1:${mcpProxy.port}`;
  // The dashboard last: it asks the healer and sentinel, so they answer from its first request.
  const dashboard = await startDashboard(child('dashboard'), {
    config: loadConfig(DashboardEnv, env),
    bus,
    store,
    metrics,
  });
  const dashboardUrl = `http://localhost:${dashboard.port}`;

  const fleet = config.DEMO
    ? createFleet({
        baseURL: `${gatewayUrl}/v1`,
        mcpUrl: `${mcpProxyUrl}/mcp`,
        size: config.DEMO_FLEET_SIZE,
        speed: config.DEMO_SPEED,
      })
    : [];
  const chaos = mock ? new Chaos(fleet, mock, say) : undefined;
  if (chaos) cures.chaos = chaos;
  if (config.DEMO) {
    for (const agent of fleet) agent.start();
    shutdown.onStopWork(async () => {
      chaos?.stop();
      for (const agent of fleet) agent.stop();
    }, 'demo-fleet');
    if (chaos && config.DEMO_CHAOS) chaos.start();
  }

  const autoApprove = config.DEMO_AUTO_APPROVE_SECONDS ?? 0;
  if (autoApprove > 0) {
    const approvals = await bus.subscribeEvents({
      types: ['approval.requested'],
      handler: async (event) => {
        const timer = setTimeout(() => {
          bus
            .request(HEALER_APPROVE, { agent_id: event.agentId }, { operatorToken: autoApproveToken })
            .catch((error: unknown) => context.logger.warn({ err: error }, 'demo auto-approve failed'));
        }, autoApprove * 1000);
        timer.unref();
      },
    });
    shutdown.onStopWork(() => approvals.stop(), 'auto-approve');
  }

  return {
    bus,
    store,
    gatewayUrl,
    mcpProxyUrl,
    dashboardUrl,
    dashboardToken,
    mock,
    fleet,
    chaos,
  };
}

/**
 * The healer's simulated executor for the demo: an action works when it really ends the fault the chaos
 * schedule injected (and then ends it), so the healer's escalation and immune memory act on real outcomes.
 */
function chaosExecutor(cures: { chaos?: Chaos }): HealingExecutor {
  return {
    name: 'simulated',
    supports: () => true,
    async apply(request) {
      const cured = cures.chaos?.cure(request.agent.agent_id, request.action) ?? true;
      return cured
        ? { ok: true, detail: `${request.action} ended the injected fault` }
        : { ok: false, detail: `${request.action} did not help against the injected fault` };
    },
  };
}
