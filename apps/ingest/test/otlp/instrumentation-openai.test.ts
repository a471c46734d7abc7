import { createRequire } from 'node:module';
import { type Bus, connectNatsBus } from '@immune/bus';
import { eventually, natsUrlForTests, removeTopology, uniquePrefix } from '@immune/bus/testing';
import type { Vital } from '@immune/core';
import { MockUpstream } from '@immune/mock-upstream';
import { metrics } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OpenAIInstrumentation } from '@opentelemetry/instrumentation-openai';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type OpenAI from 'openai';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { type AppHarness, startApp } from '../harness.js';

// @opentelemetry/instrumentation-openai 0.21 (the last on the repo's 0.223 line that runs on Node 20) patching
// the real `openai` client, which calls the mock OpenAI provider; its spans go to ingest through the real
// OTLP/protobuf exporter. The client is loaded with `require` after the instrumentation is enabled: that is
// how the instrumentation hooks a module without an ESM loader hook.
vi.setConfig({ testTimeout: 60_000 });

const AGENT = 'otel-contrib-openai-agent';
let natsUrl: string;
let prefix: string;
let bus: Bus;
let app: AppHarness;
let mock: MockUpstream;
let provider: BasicTracerProvider;
let instrumentation: OpenAIInstrumentation;
let client: OpenAI;
const published: Vital[] = [];

beforeAll(async () => {
  natsUrl = await natsUrlForTests();
  prefix = uniquePrefix('otlpi');
  bus = await connectNatsBus({ url: natsUrl, prefix, name: 'otlp-instrumentation-test' });
  app = await startApp({ bus, listen: true });
  await bus.consumeVitals({ durable: 'probe', handler: async (d) => void published.push(d.vital) });
  mock = await MockUpstream.start();
  provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': AGENT }),
    spanProcessors: [
      new SimpleSpanProcessor(
        new OTLPTraceExporter({
          url: `${app.url}/v1/traces`,
          headers: { authorization: `Bearer ${app.key}` },
        }),
      ),
    ],
  });
  instrumentation = new OpenAIInstrumentation();
  instrumentation.setTracerProvider(provider);
  // As registerInstrumentations does: the instrumentation records its duration histogram even on errors.
  instrumentation.setMeterProvider(metrics.getMeterProvider());
  instrumentation.enable();
  const { default: OpenAIClient } = createRequire(import.meta.url)('openai') as { default: typeof OpenAI };
  client = new OpenAIClient({
    apiKey: 'sk-test',
    baseURL: `${mock.url}/v1`,
    maxRetries: 0,
    defaultHeaders: { 'x-immune-agent': AGENT },
  });
}, 60_000);

afterAll(async () => {
  instrumentation?.disable();
  await provider?.shutdown();
  await mock?.close();
  await app?.close();
  await bus?.drain();
  await removeTopology(natsUrl, prefix);
});

const mine = () => published.filter((v) => v.agent_id === AGENT && v.kind === 'llm');

it('one LLM vital per chat call, with the mock provider’s token counts', async () => {
  const completion = await client.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'hello' },
    ],
  });
  await provider.forceFlush();
  await eventually(() => expect(mine()).toHaveLength(1), 20_000);
  expect(mine()[0]).toMatchObject({
    source: 'otlp',
    provider: 'openai',
    input_tokens: completion.usage?.prompt_tokens,
    output_tokens: completion.usage?.completion_tokens,
    success: true,
  });
  expect(mine()[0]?.model).toContain('gpt-4o-mini');
});

it('a failing call: success false with an error_type', async () => {
  mock.setBehaviour(AGENT, 'rate_limited');
  await expect(
    client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
  ).rejects.toThrow();
  mock.setBehaviour(AGENT, undefined);
  await provider.forceFlush();
  await eventually(() => expect(mine()).toHaveLength(2), 20_000);
  const failed = mine().find((v) => !v.success);
  expect(failed?.error_type).toBeDefined();
  expect(failed).toMatchObject({ error_type: 'RateLimitError', input_tokens: 0, output_tokens: 0 });
});

it('a streamed call carries the tokens the stream’s usage chunk reports; no prompt hash (content goes to logs)', async () => {
  const stream = await client.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'stream please' },
    ],
    stream: true,
    stream_options: { include_usage: true },
  });
  let usage: { prompt_tokens: number; completion_tokens: number } | undefined;
  for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
  await provider.forceFlush();
  await eventually(() => expect(mine()).toHaveLength(3), 20_000);
  const streamed = mine().at(-1);
  expect(streamed).toMatchObject({
    success: true,
    input_tokens: usage?.prompt_tokens,
    output_tokens: usage?.completion_tokens,
  });
  expect(streamed?.prompt_hash).toBeUndefined();
});
