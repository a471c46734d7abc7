import { connect } from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from './harness.js';

const policies = [
  {
    id: 'slow-lane',
    scope: { kind: 'agent', agent_id: 'throttled' },
    rules: { requests_per_minute: 2 },
    source: 'config',
  },
  { id: 'no-o1', scope: { kind: 'global' }, rules: { deny_models: ['o1'] }, source: 'config' },
  {
    id: 'cap',
    scope: { kind: 'agent', agent_id: 'capped' },
    rules: { max_tokens: 64, allow_tools: ['search'] },
    source: 'healer',
  },
  {
    id: 'pin',
    scope: { kind: 'agent', agent_id: 'pinned' },
    rules: { pin_model: 'gpt-4o-mini' },
    source: 'healer',
  },
];

function rawGet(origin: string, path: string): Promise<{ status: number; body: string }> {
  const { port } = new URL(origin);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: Number(port) }, () => {
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: x\r\nX-Immune-Agent: attacker\r\nConnection: close\r\n\r\n`,
      );
    });
    let data = '';
    socket.on('data', (chunk) => {
      data += chunk.toString();
    });
    socket.on('end', () => {
      const status = Number(data.split(' ')[1]);
      resolve({ status, body: data.slice(data.indexOf('\r\n\r\n') + 4) });
    });
    socket.on('error', reject);
  });
}

describe('policies and routing through HTTP', () => {
  let h: Harness;
  const client = (agent: string) =>
    new OpenAI({
      apiKey: 'sk-test',
      baseURL: `${h.url}/v1`,
      maxRetries: 0,
      defaultHeaders: { 'x-immune-agent': agent },
    });
  const ask = { model: 'gpt-4o', messages: [{ role: 'user' as const, content: 'x' }] };

  beforeAll(async () => {
    h = await startHarness({ env: { GATEWAY_POLICIES: JSON.stringify(policies) } });
  });
  afterAll(async () => h.close());

  it('answers a rate limit with an OpenAI-style 429 naming the rule, with Retry-After', async () => {
    const agent = client('throttled');
    await agent.chat.completions.create(ask);
    await agent.chat.completions.create(ask);
    const error = await agent.chat.completions.create(ask).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    const limited = error as InstanceType<typeof OpenAI.RateLimitError>;
    expect(limited.code).toBe('rate_limited');
    expect(limited.message).toMatch(/2 requests per minute.*slow-lane/);
    expect(limited.headers.get('retry-after')).toBe('30');
  });

  it('denies a model with a 403, in Anthropic format on the Messages API', async () => {
    const error = await client('anyone')
      .chat.completions.create({ ...ask, model: 'o1' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((error as Error).message).toMatch(/model 'o1' is denied by policy 'no-o1'/);
    const anthropic = new Anthropic({ apiKey: 'k', baseURL: h.url, maxRetries: 0 });
    const denied = await anthropic.messages
      .create({ model: 'o1', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect((denied as InstanceType<typeof Anthropic.PermissionDeniedError>).error).toMatchObject({
      type: 'error',
      error: { type: 'permission_error' },
    });
  });

  it('clamps max_tokens, filters tools and pins models on the way upstream', async () => {
    await client('capped').chat.completions.create({
      ...ask,
      max_tokens: 4000,
      tools: [
        { type: 'function', function: { name: 'search', parameters: {} } },
        { type: 'function', function: { name: 'shell', parameters: {} } },
      ],
    });
    const sent = h.mock.requests.at(-1)!.body as {
      max_tokens: number;
      tools: Array<{ function: { name: string } }>;
    };
    expect(sent.max_tokens).toBe(64);
    expect(sent.tools.map((t) => t.function.name)).toEqual(['search']);
    const answer = await client('pinned').chat.completions.create(ask);
    expect((h.mock.requests.at(-1)!.body as { model: string }).model).toBe('gpt-4o-mini');
    expect(answer.model).toBe('gpt-4o-mini');
  });

  it('forwards an unaffected request byte for byte', async () => {
    const body = '{"model":"gpt-4o",  "messages":[{"role":"user","content":"spacing is kept"}]}';
    const response = await fetch(`${h.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: 'Bearer sk-x',
        'x-immune-agent': 'bytes',
      },
      body,
    });
    expect(response.status).toBe(200);
    const recorded = h.mock.requests.at(-1)!;
    expect(JSON.stringify(recorded.body)).toBe(JSON.stringify(JSON.parse(body)));
    expect(recorded.headers['content-length']).toBe(String(Buffer.byteLength(body)));
    expect(recorded.headers.authorization).toBe('Bearer sk-x');
  });

  it('never calls anything outside the registry (no SSRF)', async () => {
    const before = h.mock.requests.length;
    const attempts = [
      '/v1/../admin',
      '/v1/%2e%2e/etc/passwd',
      '/v1//169.254.169.254/latest/meta-data',
      '/v1/@evil.example.com/x',
    ];
    for (const path of attempts) {
      const response = await fetch(`${h.url}${path}`, { headers: { 'x-immune-agent': 'attacker' } });
      expect([400, 404]).toContain(response.status);
      expect(await response.json()).toMatchObject({ error: expect.anything() });
    }
    // fetch normalises dot segments itself, so send raw paths over a socket to reach the gateway's own guard.
    for (const path of ['/v1/../admin', '/v1/./models', '/v1/a/../../x']) {
      const { status, body } = await rawGet(h.url, path);
      expect(status).toBe(400);
      expect(JSON.parse(body)).toMatchObject({ error: { code: 'invalid_path' } });
    }
    // Headers that some gateways honour to pick a host are ignored here.
    const hostile = await fetch(`${h.url}/v1/models`, {
      headers: {
        'x-immune-agent': 'attacker',
        host: 'evil.example.com',
        'x-portkey-custom-host': 'http://169.254.169.254',
        'x-forwarded-host': 'evil',
      },
    });
    expect(hostile.status).toBe(200);
    expect(h.mock.requests.length).toBe(before + 1);
    expect(h.mock.requests.at(-1)!.path).toBe('/v1/models');
  });

  it('answers 502 in the provider format when the upstream is unreachable', async () => {
    await h.gateway.configStore.putProvider({
      name: 'dead',
      kind: 'openai_compatible',
      base_url: 'http://127.0.0.1:9/v1',
    });
    await h.gateway.configStore.putRoute({ agent_id: 'orphan', openai: 'dead' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const error = await client('orphan')
      .chat.completions.create(ask)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    expect((error as Error).message).toMatch(/could not reach provider 'dead'/);
  });

  it('refuses an unusable agent header with a 400 instead of guessing', async () => {
    const response = await fetch(`${h.url}/v1/models`, { headers: { 'x-immune-agent': ' ' } });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: 'agent_identity' } });
  });
});
