import { createAnthropic } from '@ai-sdk/anthropic';
import { eventually } from '@immune/bus/testing';
import { promptHashOf, systemPromptOf } from '@immune/core';
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { generateText, stepCountIs, tool } from 'ai';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { type ExportingAgent, startExportingAgent } from './exporting-agent.js';

// The Vercel AI SDK 6's own telemetry (`experimental_telemetry`) with a real tool: generateText calls the mock
// Anthropic provider, which asks for the tool, the SDK runs it and calls the model again. Its spans go to ingest
// through the real OTLP/protobuf exporter.
vi.setConfig({ testTimeout: 60_000 });

const AGENT = 'vercel-ai-sdk-agent';
let stack: ExportingAgent;
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(async () => {
  // As the Node SDK does: without a context manager a span has no parent, and each would start its own trace.
  context.setGlobalContextManager(contextManager.enable());
  stack = await startExportingAgent(AGENT, 'otlpai');
}, 60_000);

afterAll(async () => {
  await stack?.close();
  context.disable();
});

it('a generateText run with one tool call: a task vital, two LLM vitals with the provider’s tokens, a tool vital', async () => {
  const anthropic = createAnthropic({
    baseURL: `${stack.mock.url}/v1`,
    apiKey: 'k',
    headers: { 'x-immune-agent': AGENT },
  });
  let toolRuns = 0;
  const result = await generateText({
    model: anthropic('claude-3-5-haiku-latest'),
    system: 'You look things up.',
    prompt: 'What is the weather?',
    tools: {
      lookup: tool({
        description: 'Looks a query up',
        inputSchema: z.object({ query: z.string() }),
        execute: async ({ query }) => {
          toolRuns++;
          return `found ${query}`;
        },
      }),
    },
    stopWhen: stepCountIs(3),
    maxRetries: 0,
    experimental_telemetry: {
      isEnabled: true,
      tracer: stack.provider.getTracer('ai'),
      functionId: 'weather',
    },
  });
  await stack.provider.forceFlush();
  expect(toolRuns).toBe(1);
  expect(result.steps).toHaveLength(2);

  await eventually(() => {
    expect(stack.vitals('llm')).toHaveLength(2);
    expect(stack.vitals('tool')).toHaveLength(1);
    expect(stack.vitals('task')).toHaveLength(1);
  }, 20_000);
  const llm = stack.vitals('llm');
  const byStep = result.steps.map((step) => ({
    input_tokens: step.usage.inputTokens,
    output_tokens: step.usage.outputTokens,
  }));
  expect(llm.map((v) => ({ input_tokens: v.input_tokens, output_tokens: v.output_tokens }))).toEqual(
    expect.arrayContaining(byStep),
  );
  expect(llm.every((v) => v.success && v.source === 'otlp' && v.provider === 'anthropic')).toBe(true);
  // The SDK records the prompt on its spans: both steps carry the gateway's hash of the same system prompt.
  const expectedHash = promptHashOf(
    systemPromptOf('chat', { messages: [{ role: 'system', content: 'You look things up.' }] }) as string,
  );
  expect(llm.map((v) => v.prompt_hash)).toEqual([expectedHash, expectedHash]);
  // The first step asked for the tool.
  expect(llm.some((v) => (v.tool_calls ?? 0) >= 1)).toBe(true);
  expect(stack.vitals('tool')[0]).toMatchObject({ tool_name: 'lookup', success: true });
  // All four spans share the run's trace.
  const traces = new Set([...llm, ...stack.vitals('tool'), ...stack.vitals('task')].map((v) => v.trace_id));
  expect(traces.size).toBe(1);
});

it('a failing model call (HTTP 429) leaves a failed LLM vital', async () => {
  stack.mock.setBehaviour(AGENT, 'rate_limited');
  const anthropic = createAnthropic({
    baseURL: `${stack.mock.url}/v1`,
    apiKey: 'k',
    headers: { 'x-immune-agent': AGENT },
  });
  await expect(
    generateText({
      model: anthropic('claude-3-5-haiku-latest'),
      prompt: 'hi',
      maxRetries: 0,
      experimental_telemetry: { isEnabled: true, tracer: stack.provider.getTracer('ai') },
    }),
  ).rejects.toThrow();
  stack.mock.setBehaviour(AGENT, undefined);
  await stack.provider.forceFlush();
  await eventually(() => expect(stack.vitals('llm').filter((v) => !v.success)).toHaveLength(1), 20_000);
  expect(stack.vitals('llm').find((v) => !v.success)?.error_type).toBeTruthy();
});
