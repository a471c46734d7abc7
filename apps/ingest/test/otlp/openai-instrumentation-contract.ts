import { eventually } from '@immune/bus/testing';
import { promptHashOf, systemPromptOf } from '@immune/core';
import type OpenAI from 'openai';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { type ExportingAgent, startExportingAgent } from './exporting-agent.js';

/**
 * What one OpenAI instrumentation does with the three calls every agent makes (a chat call, a failing call, a
 * streamed call), measured against the real ingest: each instrumentation's file states its findings as data and
 * this runs the same calls for all of them, so docs/ingest.md's table rows are each backed by the same test.
 */
export interface OpenAIInstrumentationFindings {
  agent: string;
  prefixTag: string;
  /** Patches the real `openai` module for the stack's tracer provider; returns the patched client class. */
  instrument(stack: ExportingAgent): typeof OpenAI;
  uninstrument(): void;
  /** An HTTP error (429): a failed vital with this error_type, or no span exported at all. */
  failingCall: { errorType: string } | 'no span';
  /** A stream with `include_usage`: the usage chunk's tokens, or none. */
  streamedTokens: 'usage chunk' | 'none';
  /** Whether message content is on the spans, so the vital has the gateway's prompt hash. */
  promptHash: boolean;
}

const SYSTEM = 'You are terse.';

export function openAIInstrumentationContract(findings: OpenAIInstrumentationFindings): void {
  vi.setConfig({ testTimeout: 60_000 });
  let stack: ExportingAgent;
  let client: OpenAI;
  const expectedHash = () =>
    findings.promptHash
      ? promptHashOf(systemPromptOf('chat', { messages: [{ role: 'system', content: SYSTEM }] }) as string)
      : undefined;

  beforeAll(async () => {
    stack = await startExportingAgent(findings.agent, findings.prefixTag);
    const Client = findings.instrument(stack);
    // The header tells the mock provider whose misbehaviour to play; ingest names the agent by service.name.
    client = new Client({
      apiKey: 'sk-test',
      baseURL: `${stack.mock.url}/v1`,
      maxRetries: 0,
      defaultHeaders: { 'x-immune-agent': findings.agent },
    });
  }, 60_000);

  afterAll(async () => {
    findings.uninstrument();
    await stack?.close();
  });

  const mine = () => stack.vitals('llm');

  it('one LLM vital per chat call, with the mock provider’s token counts', async () => {
    const completion = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: SYSTEM },
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
    expect(mine()[0]?.prompt_hash).toBe(expectedHash());
    expect(mine()[0]?.model).toContain('gpt-4o-mini');
  });

  const failing = findings.failingCall;
  it(
    failing === 'no span'
      ? 'a failing call (HTTP 429) exports no span at all: no vital, which the docs record'
      : `a failing call (HTTP 429): success false, error_type ${failing.errorType}`,
    async () => {
      stack.mock.setBehaviour(findings.agent, 'rate_limited');
      await expect(
        client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
      ).rejects.toThrow();
      stack.mock.setBehaviour(findings.agent, undefined);
      // A successful call behind it: once its vital is here, a vital of the failed call would be too.
      await client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'again' }],
      });
      await stack.provider.forceFlush();
      await eventually(() => expect(mine()).toHaveLength(failing === 'no span' ? 2 : 3), 20_000);
      const failed = mine().filter((v) => !v.success);
      if (failing === 'no span') expect(failed).toEqual([]);
      else
        expect(failed).toMatchObject([{ error_type: failing.errorType, input_tokens: 0, output_tokens: 0 }]);
    },
  );

  it(`a streamed call carries ${findings.streamedTokens === 'none' ? 'no tokens' : 'the usage chunk’s tokens'}`, async () => {
    const before = mine().length;
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: SYSTEM },
        { role: 'user', content: 'stream please' },
      ],
      stream: true,
      stream_options: { include_usage: true },
    });
    let usage: { prompt_tokens: number; completion_tokens: number } | undefined;
    for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
    await stack.provider.forceFlush();
    await eventually(() => expect(mine()).toHaveLength(before + 1), 20_000);
    // The provider did report usage, whatever the instrumentation made of it.
    expect(usage?.prompt_tokens).toBeGreaterThan(0);
    const tokens =
      findings.streamedTokens === 'none'
        ? { input_tokens: 0, output_tokens: 0 }
        : { input_tokens: usage?.prompt_tokens, output_tokens: usage?.completion_tokens };
    expect(mine().at(-1)).toMatchObject({ success: true, ...tokens });
    expect(mine().at(-1)?.prompt_hash).toBe(expectedHash());
  });
}
