import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness, vitalsFor } from './harness.js';

/**
 * Time to first token is measured at the first content event of each wire format, not at the first byte: the
 * mock sends its opening events at once and holds the first token back, as a real model does.
 */
describe('time to first token per wire format', () => {
  let h: Harness;
  const DELAY = 400;
  const agent = 'thinker';
  const headers = { 'x-immune-agent': agent };

  beforeAll(async () => {
    h = await startHarness();
    h.mock.setBehaviour(agent, { firstTokenDelayMs: DELAY, outputTokens: 3 });
  });
  afterAll(async () => h.close());

  const openai = () =>
    new OpenAI({ apiKey: 'sk', baseURL: `${h.url}/v1`, maxRetries: 0, defaultHeaders: headers });

  const expectTtft = async () => {
    const [vital] = await vitalsFor(h, 1);
    h.vitals.length = 0;
    expect(vital!.ttft_ms).toBeGreaterThanOrEqual(DELAY);
    expect(vital!.ttft_ms!).toBeLessThanOrEqual(vital!.latency_ms);
    return vital!;
  };

  it('chat completions: the first delta with content', async () => {
    const stream = await openai().chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'x' }],
      stream: true,
    });
    for await (const _ of stream) {
      // drain
    }
    await expectTtft();
  });

  it('chat completions: the first tool-call delta', async () => {
    await openai()
      .chat.completions.stream({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'x' }],
        tools: [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object' } } }],
      })
      .finalChatCompletion();
    expect((await expectTtft()).tool_calls).toBe(1);
  });

  it('Responses: the first output_text delta, not response.created', async () => {
    await openai().responses.stream({ model: 'gpt-4.1', input: 'x' }).finalResponse();
    await expectTtft();
  });

  it('Anthropic Messages: the first content_block_delta, not message_start', async () => {
    const anthropic = new Anthropic({ apiKey: 'k', baseURL: h.url, maxRetries: 0, defaultHeaders: headers });
    await anthropic.messages
      .stream({
        model: 'claude-3-5-haiku-latest',
        max_tokens: 10,
        messages: [{ role: 'user', content: 'x' }],
      })
      .finalMessage();
    await expectTtft();
  });
});
