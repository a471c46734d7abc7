import { hashOperatorToken, mintOperatorToken, operatorTokenLine } from '@immune/runtime';
import { answerProblems, hostileBodies, hostileValue, runAbuse, wrongJson } from '@immune/runtime/testing';
import { createTestStore, type TestStore } from '@immune/store/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from './harness.js';

/**
 * Issue 19: every HTTP surface of the gateway fuzzed. The proxy (OpenAI, Anthropic, Ollama paths) and the
 * management API get hostile bodies and headers over real HTTP, and raw-socket abuse through node:net; the
 * gateway publishes to real NATS. A 5xx is allowed only where it is documented: 502/504 from the proxy when
 * the upstream fails (docs/gateway.md), 503 from /lifecycle when no sentinel answers.
 */

const TOKEN = mintOperatorToken();
const OPERATOR_TOKENS = operatorTokenLine({ name: 'fuzz', role: 'operator', hash: hashOperatorToken(TOKEN) });
const LIMITS = {
  HTTP_MAX_HEADER_BYTES: '8192',
  HTTP_HEADERS_TIMEOUT_MS: '2000',
  HTTP_REQUEST_TIMEOUT_MS: '3000',
  HTTP_MAX_CONNECTIONS: '1000',
  BODY_LIMIT_BYTES: String(256 * 1024),
};
const PROXY_RUNS = 400;
const MANAGEMENT_RUNS = 300;

const CHAT = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 16 };
const PROXY_ROUTES: ReadonlyArray<{
  path: string;
  valid: Record<string, unknown>;
  headers?: Record<string, string>;
}> = [
  { path: '/v1/chat/completions', valid: CHAT },
  { path: '/v1/chat/completions', valid: { ...CHAT, stream: true, stream_options: { include_usage: true } } },
  { path: '/v1/completions', valid: { model: 'gpt-3.5-turbo-instruct', prompt: 'hi', max_tokens: 8 } },
  { path: '/v1/embeddings', valid: { model: 'text-embedding-3-small', input: 'hi' } },
  { path: '/v1/responses', valid: { model: 'gpt-4o-mini', input: 'hi', max_output_tokens: 16 } },
  {
    path: '/v1/messages',
    valid: {
      model: 'claude-3-5-haiku-20241022',
      max_tokens: 16,
      messages: [{ role: 'user', content: 'hi' }],
    },
    headers: { 'anthropic-version': '2023-06-01' },
  },
  {
    path: '/api/chat',
    valid: { model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }], stream: false },
  },
  { path: '/api/generate', valid: { model: 'llama3.2', prompt: 'hi', stream: false } },
];

/** Header values a client could send: random text, control-free, sometimes empty or very long. */
const headerValue = fc.oneof(
  fc.string({ minLength: 1, maxLength: 40 }).filter((value) => /^[\x21-\x7e][\x20-\x7e]*$/.test(value)),
  fc.constantFrom('', ' ', 'a'.repeat(3000), 'agent.with.dots', 'agent*>', '../etc', 'Bearer ', 'Bearer x'),
);

async function send(
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: Uint8Array,
): Promise<{ status: number; contentType: string | null; text: string }> {
  const response = await fetch(url, { method, headers, ...(body === undefined ? {} : { body }) });
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    text: await response.text(),
  };
}

function withType(headers: Record<string, string>, contentType: string | undefined): Record<string, string> {
  return contentType === undefined ? headers : { ...headers, 'content-type': contentType };
}

describe('the LLM proxy', () => {
  let h: Harness;
  beforeAll(async () => {
    // A global clamp and tool allow-list, so every fuzzed body also goes through the gateway's rewrite.
    const policies = [
      {
        id: 'fuzz-clamp',
        scope: { kind: 'global' },
        rules: { max_tokens: 8, allow_tools: ['search'] },
        source: 'config',
      },
    ];
    h = await startHarness({ nats: true, env: { ...LIMITS, GATEWAY_POLICIES: JSON.stringify(policies) } });
  }, 60_000);
  afterAll(async () => {
    await h?.close();
  });

  const chat = async () => {
    const answer = await send(
      `${h.url}/v1/chat/completions`,
      'POST',
      { 'content-type': 'application/json', 'x-immune-agent': 'probe', authorization: 'Bearer sk-probe' },
      new TextEncoder().encode(JSON.stringify(CHAT)),
    );
    if (answer.status !== 200) throw new Error(`probe answered ${answer.status}: ${answer.text}`);
  };

  it(`answers ${PROXY_RUNS} hostile bodies and headers without a 5xx of its own, every refusal JSON`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...PROXY_ROUTES).chain((route) =>
          fc.record({
            route: fc.constant(route),
            body: hostileBodies(route.valid),
            agent: fc.option(headerValue, { nil: undefined }),
            authorization: fc.option(headerValue, { nil: undefined }),
          }),
        ),
        async ({ route, body, agent, authorization }) => {
          const headers = withType(
            {
              ...route.headers,
              ...(agent === undefined ? { 'x-immune-agent': 'fuzzer' } : { 'x-immune-agent': agent }),
              ...(authorization === undefined ? {} : { authorization }),
            },
            body.contentType,
          );
          const answer = await send(`${h.url}${route.path}`, 'POST', headers, body.payload);
          // 502/504 are the proxy's documented answers when the upstream fails or times out.
          const problems = answerProblems(answer.status, answer.contentType, answer.text, [502, 504]);
          expect(problems, `${route.path} ${body.kind} ${body.contentType}`).toEqual([]);
        },
      ),
      { numRuns: PROXY_RUNS, seed: 1919 },
    );
    await chat();
  }, 300_000);

  it('refuses a body nested too deeply to inspect with 400 request_too_deep, never forwarding it', async () => {
    const deep = `{"model":"llama3.2","prompt":"hi","options":${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}}`;
    const answer = await send(
      `${h.url}/api/generate`,
      'POST',
      { 'content-type': 'application/json', 'x-immune-agent': 'deep' },
      new TextEncoder().encode(deep),
    );
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.text).error).toContain('request_too_deep');
    expect(h.mock.requests.some((request) => request.headers['x-immune-agent'] === 'deep')).toBe(false);
  });

  it('survives raw-socket abuse on the proxy path and keeps proxying', async () => {
    const report = await runAbuse(
      {
        host: '127.0.0.1',
        port: Number(new URL(h.url).port),
        method: 'POST',
        path: '/v1/chat/completions',
        headers: {
          'content-type': 'application/json',
          'x-immune-agent': 'abuser',
          authorization: 'Bearer sk-a',
        },
        body: JSON.stringify(CHAT),
        maxHeaderBytes: Number(LIMITS.HTTP_MAX_HEADER_BYTES),
        headersTimeoutMs: Number(LIMITS.HTTP_HEADERS_TIMEOUT_MS),
        idleConnections: 200,
      },
      chat,
    );
    expect(report.probesDuring).toBeGreaterThan(0);
    console.info(
      `gateway proxy abuse: ${report.cases} cases, ${report.idleConnections} idle connections, ${report.probesDuring} probes served during`,
    );
  }, 120_000);
});

describe('the management API', () => {
  let h: Harness;
  let store: TestStore;
  beforeAll(async () => {
    // With the fleet's database, so the fleet view's queries take the hostile parameters too.
    store = await createTestStore();
    h = await startHarness({
      nats: true,
      store,
      env: { ...LIMITS, IMMUNE_OPERATOR_TOKENS: OPERATOR_TOKENS },
    });
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    await store?.cleanup();
  });

  const auth = { authorization: `Bearer ${TOKEN}` };
  const BODY_ROUTES: ReadonlyArray<{ method: string; path: string; valid: Record<string, unknown> }> = [
    {
      method: 'POST',
      path: '/api/gateway/quarantine/fuzz-agent',
      valid: { reason: 'fuzz' },
    },
    {
      method: 'POST',
      path: '/api/gateway/providers',
      valid: {
        name: 'fuzz',
        kind: 'openai_compatible',
        base_url: 'http://127.0.0.1:9/v1',
        auth: 'passthrough',
      },
    },
    { method: 'POST', path: '/api/gateway/routes', valid: { agent_id: 'fuzz-agent', openai: 'fuzz' } },
  ];
  const PATHS = [
    '/api/gateway/agents',
    '/api/gateway/stats',
    '/api/gateway/agent/:id/vitals',
    '/api/gateway/replica/agents',
    '/api/gateway/replica/stats',
    '/api/gateway/replica/agent/:id/vitals',
    '/api/gateway/quarantine',
    '/api/gateway/quarantine/:id',
    '/api/gateway/lifecycle/:id',
    '/api/gateway/providers',
    '/api/gateway/providers/:id',
    '/api/gateway/routes',
    '/api/gateway/routes/:id',
    '/api/gateway/policies',
    '/api/gateway/nope',
  ];
  /** Path parameters and queries a client could send, percent-encoded or not. */
  const segment = fc.oneof(
    fc.string({ maxLength: 30 }).map((value) => encodeURIComponent(value)),
    fc.constantFrom('%', '%zz', '%00', '..', '%2e%2e', 'a'.repeat(500), '*', '>', 'a.b', '%F0%28%8C%BC'),
  );
  const query = fc.oneof(
    fc.constant(''),
    fc
      .dictionary(fc.constantFrom('limit', 'since', 'until', 'x', '__proto__'), hostileValue, { maxKeys: 3 })
      .map(
        (params) =>
          `?${Object.entries(params)
            .map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`)
            .join('&')}`,
      ),
    fc.constantFrom('?limit=-1', '?limit=1e999', '?limit=%zz', '?limit=1&limit=2', `?${'a'.repeat(4000)}`),
  );

  it(`answers ${MANAGEMENT_RUNS} hostile bodies, parameters and queries with a JSON 4xx, never a 5xx`, async () => {
    const bodies = fc.constantFrom(...BODY_ROUTES).chain((route) =>
      fc.record({
        kind: fc.constant('body' as const),
        route: fc.constant(route),
        body: hostileBodies(route.valid),
      }),
    );
    const paths = fc.record({
      kind: fc.constant('path' as const),
      method: fc.constantFrom('GET', 'DELETE', 'POST', 'PUT', 'PATCH'),
      path: fc.constantFrom(...PATHS),
      segment,
      query,
      body: fc.option(wrongJson({ reason: 'x' }), { nil: undefined }),
    });
    await fc.assert(
      fc.asyncProperty(fc.oneof(bodies, paths), fc.boolean(), async (input, authorized) => {
        const headers = authorized ? { ...auth } : { authorization: 'Bearer wrong-token-0123456789' };
        let answer: Awaited<ReturnType<typeof send>>;
        let allowed: number[] = [];
        let what: string;
        if (input.kind === 'body') {
          what = `${input.route.method} ${input.route.path} ${input.body.kind} ${input.body.contentType}`;
          // No healer runs here: a valid hand quarantine answers its documented 503 service_unavailable.
          if (input.route.path.includes('quarantine')) allowed = [503];
          answer = await send(
            `${h.url}${input.route.path}`,
            input.route.method,
            withType(headers, input.body.contentType),
            input.body.payload,
          );
        } else {
          const path = input.path.replace(':id', input.segment) + input.query;
          what = `${input.method} ${path}`;
          // No sentinel runs here: /lifecycle answers its documented 503 sentinel_unavailable.
          // Nor a healer: a hand quarantine or release answers 503 service_unavailable.
          if (input.path.includes('lifecycle') || input.path.endsWith('quarantine/:id')) allowed = [503];
          const hasBody = input.body !== undefined && input.method !== 'GET';
          answer = await send(
            `${h.url}${path}`,
            input.method,
            hasBody ? { ...headers, 'content-type': 'application/json' } : headers,
            hasBody ? new TextEncoder().encode(JSON.stringify(input.body)) : undefined,
          );
        }
        expect(answerProblems(answer.status, answer.contentType, answer.text, allowed), what).toEqual([]);
      }),
      { numRuns: MANAGEMENT_RUNS, seed: 1920 },
    );
  }, 300_000);

  it('survives raw-socket abuse on the management API and keeps serving it', async () => {
    const report = await runAbuse(
      {
        host: '127.0.0.1',
        port: Number(new URL(h.url).port),
        method: 'POST',
        path: '/api/gateway/routes',
        headers: { 'content-type': 'application/json', ...auth },
        body: JSON.stringify({ agent_id: 'abused', openai: 'openai' }),
        maxHeaderBytes: Number(LIMITS.HTTP_MAX_HEADER_BYTES),
        headersTimeoutMs: Number(LIMITS.HTTP_HEADERS_TIMEOUT_MS),
        idleConnections: 200,
      },
      async () => {
        const answer = await send(`${h.url}/api/gateway/stats`, 'GET', auth);
        if (answer.status !== 200) throw new Error(`probe answered ${answer.status}: ${answer.text}`);
      },
    );
    expect(report.probesDuring).toBeGreaterThan(0);
  }, 120_000);
});
