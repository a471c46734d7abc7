import { createRequire } from 'node:module';
import { eventually } from '@immune/bus/testing';
import { metrics } from '@opentelemetry/api';
import { OpenAIInstrumentation } from '@opentelemetry/instrumentation-openai';
import type OpenAI from 'openai';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { type ExportingAgent, startExportingAgent } from './exporting-agent.js';

// @opentelemetry/instrumentation-openai 0.21 (the last on the repo's 0.223 line that runs on Node 20) patching
// the real `openai` client, which calls the mock OpenAI provider; its spans go to ingest through the real
// OTLP/protobuf exporter. The client is loaded with `require` after the instrumentation is enabled: that is
// how the instrumentation hooks a module without an ESM loader hook.
vi.setConfig({ testTimeout: 60_000 });

const AGENT = 'otel-contrib-openai-agent';
let stack: ExportingAgent;
let instrumentation: OpenAIInstrumentation;
let client: OpenAI;

beforeAll(async () => {
  stack = await startExportingAgent(AGENT, 'otlpi');
  instrumentation = new OpenAIInstrumentation();
  instrumentation.setTracerProvider(stack.provider);
  // As registerInstrumentations does: the instrumentation records its duration histogram even on errors.
  instrumentation.setMeterProvider(metrics.getMeterProvider());
  instrumentation.enable();
  const { default: OpenAIClient } = createRequire(import.meta.url)('openai') as { default: typeof OpenAI };
  client = new OpenAIClient({
    apiKey: 'sk-test',
    baseURL: `${stack.mock.url}/v1`,
    maxRetries: 0,
    defaultHeaders: { 'x-immune-agent': AGENT },
  });
}, 60_000);

afterAll(async () => {
  instrumentation?.disable();
  await stack?.close();
});

const mine = () => stack.vitals('llm');

it('one LLM vital per chat call, with the mock provider’s token counts', async () => {
  const completion = await client.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'hello' },
    ],
  });
  await stack.provider.forceFlush();
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
  stack.mock.setBehaviour(AGENT, 'rate_limited');
  await expect(
    client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
  ).rejects.toThrow();
  stack.mock.setBehaviour(AGENT, undefined);
  await stack.provider.forceFlush();
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
  await stack.provider.forceFlush();
  await eventually(() => expect(mine()).toHaveLength(3), 20_000);
  const streamed = mine().at(-1);
  expect(streamed).toMatchObject({
    success: true,
    input_tokens: usage?.prompt_tokens,
    output_tokens: usage?.completion_tokens,
  });
  expect(streamed?.prompt_hash).toBeUndefined();
});
