import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MockUpstream } from '../src/server.js';

/** The mock must be indistinguishable from the real providers to their own SDKs. */
describe('mock upstream speaks the providers real wire formats', () => {
  let mock: MockUpstream;
  let openai: OpenAI;
  let anthropic: Anthropic;
  const tools = [
    {
      type: 'function' as const,
      function: { name: 'lookup', parameters: { type: 'object', properties: {} } },
    },
  ];

  beforeAll(async () => {
    mock = await MockUpstream.start();
    openai = new OpenAI({ apiKey: 'sk-test', baseURL: `${mock.url}/v1`, maxRetries: 0 });
    anthropic = new Anthropic({ apiKey: 'sk-ant-test', baseURL: mock.url, maxRetries: 0 });
  });
  afterAll(async () => mock.close());

  it('chat completions, plain and with tools', async () => {
    const plain = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(plain.choices[0]!.message.content).toMatch(/^the agent reviewed/);
    expect(plain.usage).toMatchObject({ completion_tokens: 20 });
    const withTools = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      tools,
    });
    expect(withTools.choices[0]!.message.tool_calls).toHaveLength(1);
    expect(withTools.choices[0]!.finish_reason).toBe('tool_calls');
  });

  it('streamed chat with usage, and the SDK stream helper reassembles tool calls', async () => {
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: unknown;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text.split(' ')).toHaveLength(20);
    expect(usage).toMatchObject({ completion_tokens: 20 });
    const runner = openai.chat.completions.stream({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'x' }],
      tools,
    });
    const final = await runner.finalChatCompletion();
    expect(final.choices[0]!.message.tool_calls![0]!.function.arguments).toBe('{"query":"mock-0"}');
  });

  it('Responses API, plain and streamed', async () => {
    const response = await openai.responses.create({
      model: 'gpt-4.1',
      input: 'hi',
      instructions: 'Be brief.',
    });
    expect(response.output_text).toMatch(/^the agent/);
    expect(response.usage?.output_tokens).toBe(20);
    const stream = openai.responses.stream({ model: 'gpt-4.1', input: 'hi' });
    const final = await stream.finalResponse();
    expect(final.output_text).toBe(response.output_text);
  });

  it('embeddings (base64 by default in the SDK), legacy completions and models', async () => {
    const embedding = await openai.embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b'] });
    expect(embedding.data).toHaveLength(2);
    expect(embedding.data[0]!.embedding[0]).toBeCloseTo(0.1, 5);
    const completion = await openai.completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: 'x' });
    expect(completion.choices[0]!.text).toMatch(/^the agent/);
    const models = await openai.models.list();
    expect(models.data.map((m) => m.id)).toContain('gpt-4o-mini');
  });

  it('Anthropic Messages, plain, streamed and with tools', async () => {
    const message = await anthropic.messages.create({
      model: 'claude-3-5-haiku-latest',
      max_tokens: 100,
      system: 'You are terse.',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(message.content[0]).toMatchObject({ type: 'text' });
    const stream = anthropic.messages.stream({
      model: 'claude-3-5-haiku-latest',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const final = await stream.finalMessage();
    expect(final.content).toEqual(message.content);
    expect(final.usage.output_tokens).toBe(20);
    const tooled = await anthropic.messages.create({
      model: 'claude-sonnet-4-20250514',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'hi' }],
      tools: [{ name: 'lookup', input_schema: { type: 'object', properties: {} } }],
    });
    expect(tooled.stop_reason).toBe('tool_use');
  });

  it('misbehaves for one agent only, with provider-style errors', async () => {
    mock.setBehaviour('bad-agent', 'rate_limited');
    const bad = new OpenAI({
      apiKey: 'k',
      baseURL: `${mock.url}/v1`,
      maxRetries: 0,
      defaultHeaders: { 'x-immune-agent': 'bad-agent' },
    });
    await expect(
      bad.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }),
    ).rejects.toMatchObject({
      status: 429,
      type: 'requests',
      code: 'rate_limit_exceeded',
    });
    await expect(
      openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }),
    ).resolves.toBeTruthy();
    mock.setBehaviour('bad-agent', { outputTokens: 500 });
    const huge = await bad.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(huge.usage?.completion_tokens).toBe(500);
    mock.setBehaviour('bad-agent', undefined);
  });
});
