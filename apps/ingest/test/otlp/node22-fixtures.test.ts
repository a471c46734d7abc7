import { readFileSync } from 'node:fs';
import { eventually } from '@immune/bus/testing';
import { promptHashOf, systemPromptOf, type Vital } from '@immune/core';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { type ExportingAgent, startExportingAgent } from './exporting-agent.js';

// Emitters that need Node 22, which this repository does not require, as recorded fixtures: each is the real SDK's
// spans serialised as an OTLP/JSON export (fixtures/record-*.ts say how to re-record).
// - AI SDK 7 with its OpenTelemetry integration (@ai-sdk/otel, GenAI semantic conventions): a generateText run
//   with one tool, plus a call refused with 429;
// - the Strands Agents TypeScript SDK: an agent with one tool on the OpenAI chat API.
vi.setConfig({ testTimeout: 60_000 });

interface Fixture {
  steps: Array<{ input_tokens: number; output_tokens: number }>;
  request: unknown;
}
function load<T extends Fixture>(name: string): T {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as T;
}
const aiSdk = load<Fixture & { ai_sdk_version: string }>('ai-sdk-7.json');
const strands = load<Fixture & { strands_version: string }>('strands-1.json');
let stack: ExportingAgent;

beforeAll(async () => {
  stack = await startExportingAgent('ai-sdk-fixture-agent', 'otlpn22');
}, 60_000);

async function exportFixture(fixture: Fixture): Promise<void> {
  const response = await fetch(`${stack.app.url}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.app.key}` },
    body: JSON.stringify(fixture.request),
  });
  expect(response.status).toBe(200);
  expect(await response.json()).toEqual({});
}
const tokensOf = (vitals: Vital[]) =>
  vitals.map((v) => ({ input_tokens: v.input_tokens, output_tokens: v.output_tokens }));

afterAll(async () => {
  await stack?.close();
});

it(`AI SDK ${aiSdk.ai_sdk_version} spans: an LLM vital per step, a tool vital, task vitals, failures kept, steps ignored`, async () => {
  await exportFixture(aiSdk);

  await eventually(() => {
    expect(stack.vitals('llm')).toHaveLength(3);
    expect(stack.vitals('tool')).toHaveLength(1);
    expect(stack.vitals('task')).toHaveLength(2);
  }, 20_000);
  const llm = stack.vitals('llm');
  const succeeded = llm.filter((v) => v.success);
  expect(tokensOf(succeeded)).toEqual(expect.arrayContaining(aiSdk.steps));
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

it(`Strands ${strands.strands_version} spans: an LLM vital per cycle, a tool vital, a task vital; loop cycles ignored`, async () => {
  await exportFixture(strands);
  const agent = 'strands-fixture-agent';
  await eventually(() => {
    expect(stack.vitalsOf(agent, 'llm')).toHaveLength(2);
    expect(stack.vitalsOf(agent, 'tool')).toHaveLength(1);
    expect(stack.vitalsOf(agent, 'task')).toHaveLength(1);
  }, 20_000);
  const llm = stack.vitalsOf(agent, 'llm');
  expect(tokensOf(llm)).toEqual(expect.arrayContaining(strands.steps));
  // Strands names itself in gen_ai.system (not the provider) and records no message content on its spans.
  expect(llm.every((v) => v.success && v.model === 'gpt-4o-mini' && v.provider === 'strands-agents')).toBe(
    true,
  );
  expect(llm.every((v) => v.prompt_hash === undefined)).toBe(true);
  expect(stack.vitalsOf(agent, 'tool')[0]).toMatchObject({ tool_name: 'lookup', success: true });
});
