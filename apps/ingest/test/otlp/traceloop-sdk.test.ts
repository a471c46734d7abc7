import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { eventually } from '@immune/bus/testing';
import { promptHashOf, systemPromptOf } from '@immune/core';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { type ExportingAgent, startExportingAgent } from './exporting-agent.js';

// The zero-change case: an agent process that already initialises @traceloop/node-server-sdk 0.27 (OpenLLMetry)
// is pointed at ingest by environment variables only, and its OpenAI client at the mock provider by
// OPENAI_BASE_URL. The SDK's own NodeSDK and OTLP/protobuf exporter send the spans.
vi.setConfig({ testTimeout: 120_000 });

const AGENT_SCRIPT = fileURLToPath(new URL('./agents/traceloop-sdk-agent.cjs', import.meta.url));
const AGENT = 'traceloop-sdk-agent';
let stack: ExportingAgent;

beforeAll(async () => {
  // Only its ingest and mock provider are used: the agent process brings its own tracer provider.
  stack = await startExportingAgent('unused-in-this-test', 'otlptls');
}, 60_000);

afterAll(async () => {
  await stack?.close();
});

it('an agent using the Traceloop SDK is watched by setting TRACELOOP_BASE_URL, TRACELOOP_API_KEY and OTEL_RESOURCE_ATTRIBUTES', async () => {
  const child = spawn(process.execPath, [AGENT_SCRIPT], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    env: {
      PATH: process.env.PATH,
      // What an operator sets: where the traces go, the ingest key (the SDK sends it as a bearer token), who this is.
      TRACELOOP_BASE_URL: stack.app.url,
      TRACELOOP_API_KEY: stack.app.key,
      // The standard OpenTelemetry resource variable; the SDK's NodeSDK reads it (its service.name would be the
      // npm package name, the same for every replica of an agent).
      OTEL_RESOURCE_ATTRIBUTES: `immune.agent.id=${AGENT}`,
      // No prompt registry at ingest: do not poll for one.
      TRACELOOP_SYNC_ENABLED: 'false',
      OPENAI_BASE_URL: `${stack.mock.url}/v1`,
      OPENAI_API_KEY: 'sk-test',
      AGENT_CALLS: '2',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  const [code] = await once(child, 'exit');
  expect(code, out).toBe(0);
  const usage = JSON.parse(out.trim().split('\n').at(-1)!).usage as Array<{
    prompt_tokens: number;
    completion_tokens: number;
  }>;

  await eventually(() => expect(vitalsOf()).toHaveLength(2), 30_000);
  const vitals = vitalsOf();
  expect(vitals.map((v) => [v.input_tokens, v.output_tokens])).toEqual(
    usage.map((u) => [u.prompt_tokens, u.completion_tokens]),
  );
  const hash = promptHashOf(
    systemPromptOf('chat', { messages: [{ role: 'system', content: 'You are terse.' }] }) as string,
  );
  for (const vital of vitals)
    expect(vital).toMatchObject({ source: 'otlp', success: true, prompt_hash: hash });
});

function vitalsOf() {
  return stack.vitalsOf(AGENT, 'llm');
}
