import { readFileSync } from 'node:fs';
import { eventually } from '@immune/bus/testing';
import { promptHashOf, systemPromptOf } from '@immune/core';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { type ExportingAgent, startExportingAgent } from './exporting-agent.js';

// AI SDK 7 needs Node 22, which this repository does not require, so its spans are a recorded fixture: the real
// SDK's OpenTelemetry integration (@ai-sdk/otel, GenAI semantic conventions) on a generateText run with one tool
// plus a call refused with 429, serialised as an OTLP/JSON export (fixtures/record-ai-sdk.ts says how to re-record).
vi.setConfig({ testTimeout: 60_000 });

interface Fixture {
  ai_sdk_version: string;
  steps: Array<{ input_tokens: number; output_tokens: number }>;
  request: unknown;
}
const fixture = JSON.parse(
  readFileSync(new URL('./fixtures/ai-sdk-7.json', import.meta.url), 'utf8'),
) as Fixture;
const AGENT = 'ai-sdk-fixture-agent';
let stack: ExportingAgent;

beforeAll(async () => {
  stack = await startExportingAgent(AGENT, 'otlpai7');
}, 60_000);

afterAll(async () => {
  await stack?.close();
});

it(`AI SDK ${fixture.ai_sdk_version} spans: an LLM vital per step, a tool vital, task vitals, failures kept, steps ignored`, async () => {
  const response = await fetch(`${stack.app.url}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.app.key}` },
    body: JSON.stringify(fixture.request),
  });
  expect(response.status).toBe(200);
  expect(await response.json()).toEqual({});

  await eventually(() => {
    expect(stack.vitals('llm')).toHaveLength(3);
    expect(stack.vitals('tool')).toHaveLength(1);
    expect(stack.vitals('task')).toHaveLength(2);
  }, 20_000);
  const llm = stack.vitals('llm');
  const succeeded = llm.filter((v) => v.success);
  expect(succeeded.map((v) => ({ input_tokens: v.input_tokens, output_tokens: v.output_tokens }))).toEqual(
    expect.arrayContaining(fixture.steps),
  );
  expect(succeeded.every((v) => v.provider === 'anthropic' && v.model === 'claude-3-5-haiku-latest')).toBe(
    true,
  );
  // gen_ai.system_instructions carries the system prompt: the gateway's hash of the same request.
  const hash = promptHashOf(
    systemPromptOf('chat', { messages: [{ role: 'system', content: 'You look things up.' }] }) as string,
  );
  expect(succeeded.map((v) => v.prompt_hash)).toEqual([hash, hash]);
  expect(llm.filter((v) => !v.success)).toHaveLength(1);
  expect(stack.vitals('tool')[0]).toMatchObject({ tool_name: 'lookup', success: true });
  // invoke_agent spans are tasks; their usage is already counted by the LLM vitals.
  expect(
    stack
      .vitals('task')
      .map((v) => v.success)
      .sort(),
  ).toEqual([false, true]);
  expect(stack.vitals('task').every((v) => v.input_tokens === 0 && v.output_tokens === 0)).toBe(true);
});
