import { createRequire } from 'node:module';
import { OpenAIInstrumentation } from '@arizeai/openinference-instrumentation-openai';
import { eventually } from '@immune/bus/testing';
import { promptHashOf, systemPromptOf } from '@immune/core';
import type OpenAI from 'openai';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { type ExportingAgent, startExportingAgent } from './exporting-agent.js';

// @arizeai/openinference-instrumentation-openai 4.2 (OpenInference, what Arize Phoenix reads) on the real `openai`
// client, which calls the mock OpenAI provider; spans reach ingest through the real OTLP/protobuf exporter.
vi.setConfig({ testTimeout: 60_000 });

const AGENT = 'openinference-openai-agent';
let stack: ExportingAgent;
let instrumentation: OpenAIInstrumentation;
let client: OpenAI;

beforeAll(async () => {
  stack = await startExportingAgent(AGENT, 'otlpoi');
  instrumentation = new OpenAIInstrumentation({ tracerProvider: stack.provider });
  const openaiModule = createRequire(import.meta.url)('openai') as { default: typeof OpenAI };
  instrumentation.manuallyInstrument(openaiModule.default);
  // The header tells the mock provider whose misbehaviour to play; ingest names the agent by service.name.
  client = new openaiModule.default({
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

it('one LLM vital per chat call, with the mock provider’s tokens and the gateway’s prompt hash', async () => {
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
    // OpenInference records the input messages (llm.input_messages.*) unless hidden by its trace config.
    prompt_hash: promptHashOf(
      systemPromptOf('chat', { messages: [{ role: 'system', content: 'You are terse.' }] }) as string,
    ),
  });
  expect(mine()[0]?.model).toContain('gpt-4o-mini');
});

it('a failing call (HTTP 429) exports no span at all with OpenInference 4.2: no vital, which the docs record', async () => {
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

it('a streamed call: OpenInference 4.2 records no token counts for a stream, so the vital has 0 tokens', async () => {
  const stream = await client.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'stream please' }],
    stream: true,
    stream_options: { include_usage: true },
  });
  let usage: { prompt_tokens: number; completion_tokens: number } | undefined;
  for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
  await stack.provider.forceFlush();
  await eventually(() => expect(mine()).toHaveLength(3), 20_000);
  expect(mine()[2]).toMatchObject({ success: true, input_tokens: 0, output_tokens: 0 });
  // The provider did report usage: the instrumentation dropped it.
  expect(usage?.prompt_tokens).toBeGreaterThan(0);
});
