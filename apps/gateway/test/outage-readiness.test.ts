import { connectNatsBus } from '@immune/bus';
import { eventually, OwnNatsServer, uniquePrefix } from '@immune/bus/testing';
import { MockUpstream } from '@immune/mock-upstream';
import { createPrometheusMetrics, loadConfig, ownBus, runService } from '@immune/runtime';
import { captureLogs } from '@immune/runtime/testing';
import { expect, it } from 'vitest';
import { GatewayEnv } from '../src/config.js';
import { type RunningGateway, startGateway } from '../src/service.js';

// The gateway's outage behaviour, wired as its main does (runService + ownBus + startGateway), at
// LOG_LEVEL=warn, with a nats-server of the test's own that the test kills and restarts: readiness stays 200
// (the gateway fails open), one warning says NATS is unreachable with the buffered count, one says it is back,
// and the gauge and outage counter say the same.
it('stays ready through a NATS outage and says so once at warn, with the buffered vitals, and once on recovery', async () => {
  const nats = await OwnNatsServer.start();
  const mock = await MockUpstream.start();
  const bus = await connectNatsBus({ url: nats.url, prefix: uniquePrefix('gw_out'), publishTimeoutMs: 300 });
  const logs = captureLogs({ service: 'gateway', level: 'warn' });
  const metrics = createPrometheusMetrics({ serviceName: 'gateway-outage' });
  const config = loadConfig(GatewayEnv, {
    LLM_UPSTREAM_URL: `${mock.url}/v1`,
    GATEWAY_PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    IMMUNE_SUBJECT_PREFIX: bus.topology.prefix,
  });
  let gateway: RunningGateway | undefined;
  const service = await runService({
    name: 'gateway',
    logger: logs.logger,
    ownProcess: false,
    async start(context) {
      ownBus(context, bus);
      gateway = await startGateway(context, { config, bus, metrics });
    },
  });
  const url = `http://127.0.0.1:${gateway!.port}`;
  const ready = async () => (await fetch(`${url}/readyz`)).status;
  const call = () =>
    fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-immune-agent': 'outage-agent' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
  const warnings = (event: string) => logs.entries().filter((entry) => entry.event === event);
  const metric = async (name: string) => {
    const text = await metrics.scrape();
    const line = text.split('\n').find((l) => l.startsWith(name) && l.includes('dependency="nats"'));
    return line === undefined ? undefined : Number(line.split(' ').at(-1));
  };
  try {
    await eventually(async () => expect(await ready()).toBe(200), 10_000);
    expect((await call()).status).toBe(200);
    expect(await metric('immune_dependency_up')).toBe(1);
    expect(logs.entries()).toEqual([]);

    await nats.kill();
    for (let i = 0; i < 3; i++) expect((await call()).status).toBe(200);
    await eventually(() => expect(warnings('dependency-down')).toHaveLength(1), 20_000);
    expect(warnings('dependency-down')[0]).toMatchObject({
      level: 'warn',
      dependency: 'nats',
      msg: 'nats is unreachable',
    });
    expect(warnings('dependency-down')[0]?.buffered).toEqual(expect.any(Number));
    expect(await ready()).toBe(200);
    expect(await metric('immune_dependency_up')).toBe(0);
    expect(await metric('immune_dependency_outages_total')).toBe(1);

    await nats.resume();
    await eventually(() => expect(warnings('dependency-up')).toHaveLength(1), 30_000);
    expect(warnings('dependency-up')[0]).toMatchObject({
      dependency: 'nats',
      msg: 'nats is reachable again',
    });
    await eventually(() => expect(gateway!.gateway.publisher.stats.buffered).toBe(0), 20_000);
    expect(await metric('immune_dependency_up')).toBe(1);
    // One line each way, nothing else at warn for the whole outage.
    expect(warnings('dependency-down')).toHaveLength(1);
    expect(
      logs
        .entries()
        .map((e) => e.event)
        .filter((e) => !String(e).startsWith('dependency-')),
    ).toEqual([]);
  } finally {
    await service.stop('test');
    await metrics.shutdown();
    await mock.close();
    await nats.stop();
  }
}, 120_000);
