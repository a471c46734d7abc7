import { createRequire } from 'node:module';
import { eventually } from '@immune/bus/testing';
import { promptHashOf, systemPromptOf } from '@immune/core';
import { OpenAIInstrumentation } from '@traceloop/instrumentation-openai';
import type OpenAI from 'openai';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { type ExportingAgent, startExportingAgent } from './exporting-agent.js';

// @traceloop/instrumentation-openai 0.27 (OpenLLMetry) on the real `openai` client, which calls the mock OpenAI
// provider; its spans go to ingest through the real OTLP/protobuf exporter. `manuallyInstrument` patches the
// module this test loaded (no loader hook under vitest).
vi.setConfig({ testTimeout: 60_000 });

const AGENT = 'traceloop-openai-agent';
let stack: ExportingAgent;
let instrumentation: OpenAIInstrumentation;
let client: OpenAI;

beforeAll(async () => {
  stack = await startExportingAgent(AGENT, 'otlpt');
  instrumentation = new OpenAIInstrumentation({ traceContent: true });
  instrumentation.setTracerProvider(stack.provider);
  const openaiModule = createRequire(import.meta.url)('openai') as { default: typeof OpenAI };
  instrumentation.manuallyInstrument(openaiModule.default);
  const OpenAIClient = openaiModule.default;
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
    // Traceloop captures the messages on the span: the same hash as the gateway's for this request.
    prompt_hash: promptHashOf(
      systemPromptOf('chat', { messages: [{ role: 'system', content: 'You are terse.' }] }) as string,
    ),
  });
  expect(mine()[0]?.model).toContain('gpt-4o-mini');
});

it('a failing call (HTTP 429) exports no span at all: no vital, which the docs record', async () => {
  stack.mock.setBehaviour(AGENT, 'rate_limited');
  await expect(
    client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
  ).rejects.toThrow();
  stack.mock.setBehaviour(AGENT, undefined);
  // A successful call behind it: once its vital is here, a vital of the failed call would be too.
  await client.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'again' }],
  });
  await stack.provider.forceFlush();
  await eventually(() => expect(mine()).toHaveLength(2), 20_000);
  expect(mine().every((v) => v.success)).toBe(true);
});

it('a streamed call: Traceloop 0.27 reports no usage (enrichTokens off by default), so the vital has 0 tokens', async () => {
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
    input_tokens: 0,
    output_tokens: 0,
  });
  // The provider did report usage: the instrumentation dropped it.
  expect(usage?.prompt_tokens).toBeGreaterThan(0);
});
