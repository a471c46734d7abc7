import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Harness, startHarness, vitalsFor } from './harness.js';

/**
 * Provider kinds beyond OpenAI and Anthropic, each through its real client: Gemini's OpenAI-compatible endpoint
 * (the `openai` SDK, a gateway-held key) and Ollama's native API (the `ollama` client with its host at the
 * gateway). The mock speaks both wire formats.
 */
describe('Gemini and Ollama providers', () => {
  let h: Harness;
  const headers = { 'x-immune-agent': 'local-agent' };

  beforeAll(async () => {
    h = await startHarness({
      env: { GEMINI_KEY: 'gemini-secret' },
      providerEnv: (mockUrl) => ({
        OLLAMA_UPSTREAM_URL: mockUrl,
        GATEWAY_PROVIDERS: JSON.stringify([
          {
            name: 'gemini',
            kind: 'gemini',
            base_url: `${mockUrl}/v1beta/openai`,
            auth: { env: 'GEMINI_KEY' },
          },
        ]),
        GATEWAY_ROUTES: JSON.stringify([{ agent_id: 'gemini-agent', openai: 'gemini' }]),
      }),
    });
  });
  afterAll(async () => h.close());
  beforeEach(() => {
    h.vitals.length = 0;
  });

  it('Gemini through its OpenAI-compatible endpoint, with the key the gateway holds', async () => {
    const client = new OpenAI({
      apiKey: 'agent-key-not-for-google',
      baseURL: `${h.url}/v1`,
      maxRetries: 0,
      defaultHeaders: { 'x-immune-agent': 'gemini-agent' },
    });
    const answer = await client.chat.completions.create({
      model: 'gemini-2.5-flash',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(answer.choices[0]?.message.content).toMatch(/^the agent reviewed/);
    const upstream = h.mock.requests.at(-1)!;
    expect(upstream.path).toBe('/v1beta/openai/chat/completions');
    expect(upstream.headers.authorization).toBe('Bearer gemini-secret');
    const [vital] = await vitalsFor(h, 1);
    expect(vital).toMatchObject({
      agent_id: 'gemini-agent',
      provider: 'gemini',
      model: 'gemini-2.5-flash',
      output_tokens: answer.usage!.completion_tokens,
      success: true,
    });
  });

  it('Ollama native chat, streamed (its default) and not, with the real ollama client', async () => {
    const ollama = new Ollama({ host: h.url, headers });
    const params = {
      model: 'llama3.2',
      messages: [
        { role: 'system', content: 'You are local.' },
        { role: 'user', content: 'hi' },
      ],
    };
    const plain = await ollama.chat({ ...params, stream: false });
    expect(plain.message.content).toMatch(/^the agent reviewed/);
    let streamed = '';
    for await (const part of await ollama.chat({ ...params, stream: true })) streamed += part.message.content;
    expect(streamed).toBe(plain.message.content);
    const vitals = await vitalsFor(h, 2);
    for (const vital of vitals) {
      expect(vital).toMatchObject({
        provider: 'ollama',
        model: 'llama3.2',
        input_tokens: plain.prompt_eval_count,
        output_tokens: plain.eval_count,
        success: true,
      });
      expect(vital.prompt_hash).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(vitals[0]!.ttft_ms).toBeUndefined();
    expect(vitals[1]!.ttft_ms).toBeGreaterThan(0);
  });

  it('Ollama generate and embed are vitals, listing models passes through', async () => {
    const ollama = new Ollama({ host: h.url, headers });
    const generated = await ollama.generate({
      model: 'llama3.2',
      prompt: 'hi',
      system: 'Be short.',
      stream: false,
    });
    expect(generated.response).toMatch(/^the agent reviewed/);
    const embedded = await ollama.embed({ model: 'nomic-embed-text', input: ['a', 'b'] });
    expect(embedded.embeddings).toHaveLength(2);
    expect((await ollama.list()).models[0]?.name).toBe('llama3.2:latest');
    const vitals = await vitalsFor(h, 2);
    expect(vitals.map((v) => [v.model, v.output_tokens > 0])).toEqual([
      ['llama3.2', true],
      ['nomic-embed-text', false],
    ]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(h.vitals).toHaveLength(2);
  });

  it("answers the gateway's own refusals in Ollama's error format", async () => {
    const ollama = new Ollama({ host: h.url, headers: { 'x-immune-agent': 'x'.repeat(300) } });
    await expect(ollama.chat({ model: 'llama3.2', messages: [], stream: false })).rejects.toMatchObject({
      status_code: 400,
      error: expect.stringMatching(/agent_identity/),
    });
  });
});
