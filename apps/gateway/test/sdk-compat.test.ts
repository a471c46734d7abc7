import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Harness, startHarness, vitalsFor } from './harness.js';

/**
 * The real SDKs, pointed once at the mock directly and once at the gateway, must get identical results, and
 * the gateway must publish exactly one correct vital per call.
 */
describe('real SDKs through the gateway', () => {
  let h: Harness;
  let direct: OpenAI;
  let viaGateway: OpenAI;
  let anthropicDirect: Anthropic;
  let anthropicViaGateway: Anthropic;
  const agentHeaders = { 'x-immune-agent': 'sdk-agent' };
  const tools = [
    {
      type: 'function' as const,
      function: { name: 'lookup', parameters: { type: 'object', properties: {} } },
    },
  ];
  const system = 'You are a research agent.';

  beforeAll(async () => {
    h = await startHarness();
    direct = new OpenAI({
      apiKey: 'sk-test',
      baseURL: `${h.mock.url}/v1`,
      maxRetries: 0,
      defaultHeaders: agentHeaders,
    });
    viaGateway = new OpenAI({
      apiKey: 'sk-test',
      baseURL: `${h.url}/v1`,
      maxRetries: 0,
      defaultHeaders: agentHeaders,
    });
    anthropicDirect = new Anthropic({
      apiKey: 'sk-ant',
      baseURL: h.mock.url,
      maxRetries: 0,
      defaultHeaders: agentHeaders,
    });
    anthropicViaGateway = new Anthropic({
      apiKey: 'sk-ant',
      baseURL: h.url,
      maxRetries: 0,
      defaultHeaders: agentHeaders,
    });
  });
  afterAll(async () => h.close());
  beforeEach(() => {
    h.vitals.length = 0;
  });

  const sha = async (text: string) => {
    const { createHash } = await import('node:crypto');
    return createHash('sha256').update(text).digest('hex');
  };

  it('chat, not streamed', async () => {
    const params = {
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system' as const, content: system },
        { role: 'user' as const, content: 'summarise the quarter' },
      ],
    };
    const a = await direct.chat.completions.create(params);
    const b = await viaGateway.chat.completions.create(params);
    expect(b).toEqual(a);
    const [vital] = await vitalsFor(h, 1);
    expect(vital).toMatchObject({
      agent_id: 'sdk-agent',
      source: 'gateway',
      kind: 'llm',
      model: 'gpt-4o-mini',
      provider: 'openai',
      input_tokens: a.usage!.prompt_tokens,
      output_tokens: a.usage!.completion_tokens,
      total_tokens: a.usage!.total_tokens,
      tool_calls: 0,
      retries: 0,
      success: true,
      prompt_hash: await sha(system),
    });
    expect(vital!.cost).toBeCloseTo(
      (a.usage!.prompt_tokens * 0.15 + a.usage!.completion_tokens * 0.6) / 1e6,
      12,
    );
    expect(vital!.latency_ms).toBeGreaterThan(0);
    expect(vital!.ttft_ms).toBeUndefined();
    expect(vital!.error_type).toBeUndefined();
  });

  it('chat, streamed without asking for usage: same chunks, and the vital still has usage', async () => {
    const params = {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user' as const, content: 'stream it' }],
      stream: true as const,
    };
    const collect = async (client: OpenAI) => {
      const chunks: unknown[] = [];
      for await (const chunk of await client.chat.completions.create(params)) chunks.push(chunk);
      return chunks;
    };
    const a = await collect(direct);
    const b = await collect(viaGateway);
    expect(b).toEqual(a);
    expect(a.some((c) => (c as { usage?: unknown }).usage)).toBe(false);
    const [vital] = await vitalsFor(h, 1);
    expect(vital).toMatchObject({
      input_tokens: expect.any(Number),
      output_tokens: 20,
      tool_calls: 0,
      success: true,
    });
    expect(vital!.input_tokens).toBeGreaterThan(0);
    expect(vital!.ttft_ms).toBeGreaterThan(0);
    expect(vital!.ttft_ms!).toBeLessThanOrEqual(vital!.latency_ms);
  });

  it('chat, streamed with usage requested: the usage chunk arrives unchanged', async () => {
    const params = {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user' as const, content: 'with usage' }],
      stream: true as const,
      stream_options: { include_usage: true },
    };
    const collect = async (client: OpenAI) => {
      const chunks: unknown[] = [];
      for await (const chunk of await client.chat.completions.create(params)) chunks.push(chunk);
      return chunks;
    };
    const a = await collect(direct);
    const b = await collect(viaGateway);
    expect(b).toEqual(a);
    const usage = (a.at(-1) as { usage: { completion_tokens: number } }).usage;
    const [vital] = await vitalsFor(h, 1);
    expect(vital!.output_tokens).toBe(usage.completion_tokens);
  });

  it('tools, plain and streamed (deltas reassembled by the SDK)', async () => {
    const params = { model: 'gpt-4o', messages: [{ role: 'user' as const, content: 'use a tool' }], tools };
    const a = await direct.chat.completions.create(params);
    const b = await viaGateway.chat.completions.create(params);
    expect(b).toEqual(a);
    const streamedA = await direct.chat.completions.stream(params).finalChatCompletion();
    const streamedB = await viaGateway.chat.completions.stream(params).finalChatCompletion();
    expect(streamedB).toEqual(streamedA);
    const vitals = await vitalsFor(h, 2);
    expect(vitals.map((v) => v.tool_calls)).toEqual([1, 1]);
    expect(vitals[1]!.ttft_ms).toBeGreaterThan(0);
  });

  it('Responses API, plain and streamed', async () => {
    const params = { model: 'gpt-4.1', input: 'hello', instructions: 'Be brief.' };
    const a = await direct.responses.create(params);
    const b = await viaGateway.responses.create(params);
    expect(b).toEqual(a);
    const sa = await direct.responses.stream(params).finalResponse();
    const sb = await viaGateway.responses.stream(params).finalResponse();
    expect(sb).toEqual(sa);
    const vitals = await vitalsFor(h, 2);
    for (const vital of vitals) {
      expect(vital).toMatchObject({
        model: 'gpt-4.1',
        input_tokens: a.usage!.input_tokens,
        output_tokens: a.usage!.output_tokens,
        total_tokens: a.usage!.total_tokens,
        prompt_hash: await sha('Be brief.'),
        success: true,
      });
    }
  });

  it('embeddings and models pass through; only the embedding is a vital', async () => {
    const a = await direct.embeddings.create({ model: 'text-embedding-3-small', input: ['x', 'y'] });
    const b = await viaGateway.embeddings.create({ model: 'text-embedding-3-small', input: ['x', 'y'] });
    expect(b).toEqual(a);
    expect((await viaGateway.models.list()).data).toEqual((await direct.models.list()).data);
    const [vital] = await vitalsFor(h, 1);
    expect(vital).toMatchObject({
      model: 'text-embedding-3-small',
      input_tokens: a.usage.prompt_tokens,
      output_tokens: 0,
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(h.vitals).toHaveLength(1);
  });

  it('Anthropic Messages, plain, streamed and with tools', async () => {
    const params = {
      model: 'claude-3-5-haiku-latest',
      max_tokens: 100,
      system,
      messages: [{ role: 'user' as const, content: 'hi' }],
    };
    const a = await anthropicDirect.messages.create(params);
    const b = await anthropicViaGateway.messages.create(params);
    expect(b).toEqual(a);
    const sa = await anthropicDirect.messages.stream(params).finalMessage();
    const sb = await anthropicViaGateway.messages.stream(params).finalMessage();
    expect(sb).toEqual(sa);
    const tooled = {
      ...params,
      tools: [{ name: 'lookup', input_schema: { type: 'object' as const, properties: {} } }],
    };
    const ta = await anthropicDirect.messages.create(tooled);
    expect(await anthropicViaGateway.messages.create(tooled)).toEqual(ta);
    const vitals = await vitalsFor(h, 3);
    expect(vitals.map((v) => [v.input_tokens, v.output_tokens, v.tool_calls])).toEqual([
      [a.usage.input_tokens, a.usage.output_tokens, 0],
      [a.usage.input_tokens, a.usage.output_tokens, 0],
      [ta.usage.input_tokens, ta.usage.output_tokens, 1],
    ]);
    expect(vitals[0]).toMatchObject({ provider: 'anthropic', prompt_hash: await sha(system) });
    expect(vitals[0]!.cost).toBeCloseTo((a.usage.input_tokens * 0.8 + a.usage.output_tokens * 4) / 1e6, 12);
  });

  it('provider errors reach the client unchanged and count as failed vitals', async () => {
    h.mock.setBehaviour('sdk-agent', 'rate_limited');
    const params = { model: 'gpt-4o', messages: [{ role: 'user' as const, content: 'x' }] };
    const a = await direct.chat.completions.create(params).catch((e: unknown) => e);
    const b = await viaGateway.chat.completions.create(params).catch((e: unknown) => e);
    h.mock.setBehaviour('sdk-agent', undefined);
    expect(b).toBeInstanceOf(OpenAI.RateLimitError);
    expect((b as InstanceType<typeof OpenAI.RateLimitError>).error).toEqual(
      (a as InstanceType<typeof OpenAI.RateLimitError>).error,
    );
    const [vital] = await vitalsFor(h, 1);
    expect(vital).toMatchObject({ success: false, error_type: 'rate_limit_exceeded' });
  });

  it('counts an identical request repeated within the window as a retry', async () => {
    const params = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'same again' }] };
    await viaGateway.chat.completions.create(params);
    await viaGateway.chat.completions.create(params);
    const vitals = await vitalsFor(h, 2);
    expect(vitals.map((v) => v.retries)).toEqual([0, 1]);
    expect(vitals[0]!.request_hash).toBe(vitals[1]!.request_hash);
  });
});
