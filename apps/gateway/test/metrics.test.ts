import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness, vitalsFor } from './harness.js';

/** GenAI semantic-convention metrics and the gateway's own, as Prometheus scrapes them. */
describe('gateway metrics', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('records duration, token usage, first-chunk time, upstream errors, refusals and the vitals buffer', async () => {
    const client = (agent: string) =>
      new OpenAI({
        apiKey: 'sk',
        baseURL: `${h.url}/v1`,
        maxRetries: 0,
        defaultHeaders: { 'x-immune-agent': agent },
      });
    const ask = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hi' }] };
    await client('metered').chat.completions.create(ask);
    for await (const _ of await client('metered').chat.completions.create({ ...ask, stream: true })) {
      // drain
    }
    h.mock.setBehaviour('failing', { errorStatus: 500, errorRate: 1 });
    await client('failing')
      .chat.completions.create(ask)
      .catch(() => undefined);
    h.gateway.quarantine.apply('locked', {
      agent_id: 'locked',
      state: 'QUARANTINED',
      reason: 'test',
      since: Date.now(),
      by: 'operator',
    });
    await client('locked')
      .chat.completions.create(ask)
      .catch(() => undefined);
    await vitalsFor(h, 3);
    const text = await h.scrape();
    const line = (pattern: RegExp) => text.split('\n').find((l) => pattern.test(l));
    expect(
      line(
        /^gen_ai_client_operation_duration_count\{.*gen_ai_operation_name="chat".*gen_ai_provider_name="openai".*gen_ai_request_model="gpt-4o-mini"/,
      ),
    ).toMatch(/ 2$/);
    expect(line(/^gen_ai_client_token_usage_count\{.*gen_ai_token_type="output"/)).toMatch(/ 2$/);
    expect(line(/^gen_ai_client_operation_time_to_first_chunk_count\{/)).toMatch(/ 1$/);
    expect(line(/^gateway_upstream_errors_total\{.*error_type="server_error"/)).toMatch(/ 1$/);
    expect(line(/^gateway_quarantine_refusals_total/)).toMatch(/ 1$/);
    expect(line(/^gateway_vitals_buffered/)).toBeDefined();
    expect(line(/^gateway_calls_in_flight/)).toMatch(/ 0$/);
  });
});
