import { GATEWAY_BUCKET, gatewayKey } from '@immune/bus';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness, waitFor } from './harness.js';

describe('shared config in the gateway KV bucket', () => {
  let h: Harness;
  const client = (agent: string) =>
    new OpenAI({
      apiKey: 'sk-agent-own-key',
      baseURL: `${h.url}/v1`,
      maxRetries: 0,
      defaultHeaders: { 'x-immune-agent': agent },
    });
  const ask = { model: 'gpt-4o', max_tokens: 2000, messages: [{ role: 'user' as const, content: 'x' }] };

  beforeAll(async () => {
    process.env.TEST_AZURE_KEY = 'azure-secret-from-env';
    h = await startHarness({ nats: true });
  });
  afterAll(async () => {
    delete process.env.TEST_AZURE_KEY;
    await h.close();
  });

  it('applies a cure the healer writes as a policy from the next request on, and lifts it on delete', async () => {
    const kv = await h.bus.kv(GATEWAY_BUCKET);
    await kv.put(gatewayKey.policy('cure-7'), {
      kind: 'policy',
      policy: {
        id: 'cure-7',
        scope: { kind: 'agent', agent_id: 'looping' },
        rules: { max_tokens: 128, strip_tools: true },
        source: 'healer',
        reason: 'infinite_loop',
      },
    });
    let clamped = false;
    for (let i = 0; i < 50 && !clamped; i++) {
      await client('looping').chat.completions.create(ask);
      clamped = (h.mock.requests.at(-1)!.body as { max_tokens: number }).max_tokens === 128;
    }
    expect(clamped).toBe(true);
    await client('bystander').chat.completions.create(ask);
    expect((h.mock.requests.at(-1)!.body as { max_tokens: number }).max_tokens).toBe(2000);
    await kv.delete(gatewayKey.policy('cure-7'));
    let lifted = false;
    for (let i = 0; i < 50 && !lifted; i++) {
      await client('looping').chat.completions.create(ask);
      lifted = (h.mock.requests.at(-1)!.body as { max_tokens: number }).max_tokens === 2000;
    }
    expect(lifted).toBe(true);
  });

  it('reroutes an agent to an Azure deployment with the key from the gateway environment', async () => {
    const kv = await h.bus.kv(GATEWAY_BUCKET);
    await kv.put(gatewayKey.provider('azure-eu'), {
      kind: 'provider',
      provider: {
        name: 'azure-eu',
        kind: 'azure',
        base_url: h.mock.url,
        api_version: '2024-10-21',
        deployments: { 'gpt-4o': 'prod-gpt4o' },
        auth: { env: 'TEST_AZURE_KEY' },
      },
    });
    await kv.put(gatewayKey.route('eu-agent'), {
      kind: 'route',
      route: { agent_id: 'eu-agent', openai: 'azure-eu', source: 'healer' },
    });
    let routed = false;
    for (let i = 0; i < 50 && !routed; i++) {
      await client('eu-agent')
        .chat.completions.create(ask)
        .catch(() => undefined);
      routed = h.mock.requests.at(-1)!.path.startsWith('/openai/deployments/');
    }
    expect(routed).toBe(true);
    const sent = h.mock.requests.at(-1)!;
    expect(sent.path).toBe('/openai/deployments/prod-gpt4o/chat/completions?api-version=2024-10-21');
    expect(sent.headers['api-key']).toBe('azure-secret-from-env');
    expect(sent.headers.authorization).toBeUndefined();
    await waitFor(() => h.vitals.some((v) => v.provider === 'azure-eu'), 'the azure-eu vital');
    expect(h.vitals.filter((v) => v.provider === 'azure-eu').at(-1)).toMatchObject({
      agent_id: 'eu-agent',
      success: true,
    });
    expect(JSON.stringify(h.vitals)).not.toContain('azure-secret-from-env');
    expect(JSON.stringify(h.vitals)).not.toContain('sk-agent-own-key');
  });
});
