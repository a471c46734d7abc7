import { createAnthropic } from '@ai-sdk/anthropic';
import Anthropic from '@anthropic-ai/sdk';
import { generateText, streamText } from 'ai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Harness, startHarness, vitalsFor } from './harness.js';

/**
 * The Anthropic API is served both under /v1 and at the root: `@anthropic-ai/sdk` appends /v1/messages to its
 * base URL, the Vercel AI SDK's Anthropic provider appends /messages to a base URL that already ends in /v1.
 * Either way `ANTHROPIC_BASE_URL=http://gateway:4000` works, and so does `.../v1` for the Vercel AI SDK.
 */
describe('Anthropic clients at both base URLs', () => {
  let h: Harness;
  const headers = { 'x-immune-agent': 'claude-agent' };
  const params = {
    model: 'claude-3-5-haiku-latest',
    max_tokens: 50,
    system: 'You are terse.',
    messages: [{ role: 'user' as const, content: 'hi' }],
  };

  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());
  beforeEach(() => {
    h.vitals.length = 0;
  });

  it('@anthropic-ai/sdk with the gateway root as base URL: messages, count_tokens and models', async () => {
    const direct = new Anthropic({
      apiKey: 'k',
      baseURL: h.mock.url,
      maxRetries: 0,
      defaultHeaders: headers,
    });
    const via = new Anthropic({ apiKey: 'k', baseURL: h.url, maxRetries: 0, defaultHeaders: headers });
    expect(await via.messages.create(params)).toEqual(await direct.messages.create(params));
    expect(await via.messages.countTokens(params)).toEqual(await direct.messages.countTokens(params));
    const models = async (client: Anthropic) => {
      const list = [];
      for await (const model of client.models.list()) list.push(model);
      return list;
    };
    expect(await models(via)).toEqual(await models(direct));
    expect((await models(via))[0]).toMatchObject({ type: 'model' });
    const [vital] = await vitalsFor(h, 1);
    expect(vital).toMatchObject({ agent_id: 'claude-agent', provider: 'anthropic', success: true });
    // Only the generation is a vital: counting tokens and listing models are not calls to a model.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(h.vitals).toHaveLength(1);
  });

  it.each([
    ['the root', ''],
    ['/v1', '/v1'],
  ])(
    'the Vercel AI SDK Anthropic provider with %s as base URL, plain and streamed',
    async (_name, suffix) => {
      const anthropic = createAnthropic({ baseURL: `${h.url}${suffix}`, apiKey: 'k', headers });
      const model = anthropic('claude-3-5-haiku-latest');
      const plain = await generateText({ model, system: 'You are terse.', prompt: 'hi', maxRetries: 0 });
      expect(plain.text).toMatch(/^the agent reviewed/);
      const streamed = streamText({ model, prompt: 'hi', maxRetries: 0 });
      let text = '';
      for await (const delta of streamed.textStream) text += delta;
      expect(text).toBe(plain.text);
      const vitals = await vitalsFor(h, 2);
      expect(vitals.map((v) => [v.provider, v.success, v.output_tokens])).toEqual([
        ['anthropic', true, plain.usage.outputTokens],
        ['anthropic', true, plain.usage.outputTokens],
      ]);
      expect(vitals[1]!.ttft_ms).toBeGreaterThan(0);
    },
  );

  it('root count_tokens and models go to the Anthropic provider', async () => {
    const anthropicHeaders = { 'x-api-key': 'k', 'anthropic-version': '2023-06-01', ...headers };
    const counted = await fetch(`${h.url}/messages/count_tokens`, {
      method: 'POST',
      headers: { ...anthropicHeaders, 'content-type': 'application/json' },
      body: JSON.stringify(params),
    });
    expect(counted.status).toBe(200);
    expect(await counted.json()).toEqual({ input_tokens: expect.any(Number) });
    const models = await fetch(`${h.url}/models`, { headers: anthropicHeaders });
    expect(((await models.json()) as { data: Array<{ type: string }> }).data[0]?.type).toBe('model');
    expect(h.mock.requests.at(-1)?.path).toBe('/v1/models');
  });
});
