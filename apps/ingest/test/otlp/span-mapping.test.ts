import { Pricing, promptHashOf } from '@immune/core';
import { describe, expect, it } from 'vitest';
import { decodeTraceRequestJson } from '../../src/otlp/decode-json.js';
import type { Attributes, AttrValue, OtlpSpan } from '../../src/otlp/model.js';
import { resourceAgent, TraceAgents } from '../../src/otlp/span-agent.js';
import {
  CLASSIFICATION_RULES,
  classifySpan,
  FIELD_SOURCES,
  readSpan,
  TOOL_CALL_COUNTERS,
  TTFT_SOURCES,
} from '../../src/otlp/span-mapping.js';
import { spansToVitals } from '../../src/otlp/to-vitals.js';

const pricing = new Pricing();
const START = 1_700_000_000_000_000_000n;

function span(attributes: Record<string, AttrValue>, overrides: Partial<OtlpSpan> = {}): OtlpSpan {
  return {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    parentSpanId: '',
    name: 'span',
    kind: 3,
    startTimeUnixNano: START,
    endTimeUnixNano: START + 1_500_000n,
    attributes: new Map(Object.entries(attributes)) as Attributes,
    events: [],
    status: { code: 0, message: '' },
    ...overrides,
  };
}

describe('classification rules (one test per row)', () => {
  const rows: Array<[string, OtlpSpan, string]> = [
    ['gen_ai.operation.name', span({ 'gen_ai.operation.name': 'chat' }), 'llm'],
    ['gen_ai.operation.name', span({ 'gen_ai.operation.name': 'embeddings' }), 'llm'],
    ['gen_ai.operation.name', span({ 'gen_ai.operation.name': 'execute_tool' }), 'tool'],
    ['gen_ai.operation.name', span({ 'gen_ai.operation.name': 'invoke_agent' }), 'task'],
    ['openinference.span.kind', span({ 'openinference.span.kind': 'LLM' }), 'llm'],
    ['openinference.span.kind', span({ 'openinference.span.kind': 'TOOL' }), 'tool'],
    ['openinference.span.kind', span({ 'openinference.span.kind': 'AGENT' }), 'task'],
    ['openinference.span.kind', span({ 'openinference.span.kind': 'CHAIN' }), 'ignore'],
    ['traceloop.span.kind', span({ 'traceloop.span.kind': 'workflow' }), 'task'],
    ['traceloop.span.kind', span({ 'traceloop.span.kind': 'tool' }), 'tool'],
    ['llm.request.type', span({ 'llm.request.type': 'chat' }), 'llm'],
    ['mcp.method.name = tools/call', span({ 'mcp.method.name': 'tools/call' }), 'tool'],
    [
      'span name ai.*.doGenerate / ai.*.doStream (Vercel AI SDK)',
      span({}, { name: 'ai.streamText.doStream' }),
      'llm',
    ],
    ['span name ai.toolCall (Vercel AI SDK)', span({}, { name: 'ai.toolCall' }), 'tool'],
    [
      'span name ai.generateText / ai.streamText / ai.generateObject / ai.streamObject (Vercel AI SDK)',
      span({}, { name: 'ai.generateText' }),
      'task',
    ],
  ];
  it.each(rows)('%s → %s', (rule, input, expected) => {
    expect(CLASSIFICATION_RULES.some((r) => r.rule === rule)).toBe(true);
    expect(classifySpan(input)).toBe(expected);
  });
  it('gen_ai.operation.name wins over the older dialects', () => {
    expect(classifySpan(span({ 'gen_ai.operation.name': 'invoke_agent', 'llm.request.type': 'chat' }))).toBe(
      'task',
    );
  });
  it('an HTTP span is no vital', () => {
    expect(readSpan(span({ 'http.request.method': 'POST' }), pricing, 0)).toBeUndefined();
  });
});

describe('field sources (one test per attribute)', () => {
  const llm = (attributes: Record<string, AttrValue>) =>
    readSpan(span({ 'gen_ai.operation.name': 'chat', ...attributes }), pricing, 0);
  it.each(FIELD_SOURCES.model)('model from %s', (key) => expect(llm({ [key]: 'm-1' })?.model).toBe('m-1'));
  it.each(FIELD_SOURCES.provider)('provider from %s', (key) =>
    expect(llm({ [key]: 'OpenAI.chat' })?.provider).toBe('openai'),
  );
  it.each(FIELD_SOURCES.inputTokens)('input tokens from %s (number or string)', (key) => {
    expect(llm({ [key]: 42 })?.inputTokens).toBe(42);
    expect(llm({ [key]: '42' })?.inputTokens).toBe(42);
  });
  it.each(FIELD_SOURCES.outputTokens)('output tokens from %s', (key) =>
    expect(llm({ [key]: 7 })?.outputTokens).toBe(7),
  );
  it.each(FIELD_SOURCES.totalTokens)('total tokens from %s', (key) =>
    expect(llm({ [key]: 99 })?.totalTokens).toBe(99),
  );
  it.each(FIELD_SOURCES.cost)('cost from %s', (key) => expect(llm({ [key]: 0.5 })?.cost).toBe(0.5));
  it.each(FIELD_SOURCES.toolName)('tool name from %s', (key) =>
    expect(
      readSpan(span({ 'gen_ai.operation.name': 'execute_tool', [key]: 'lookup' }), pricing, 0)?.toolName,
    ).toBe('lookup'),
  );
  it.each(TTFT_SOURCES)('time to first token from %s (× %d to ms)', (key, factor) =>
    expect(llm({ [key]: 0.25 })?.ttftMs).toBe(0.25 * factor),
  );
  it('cost from the pricing table when the span has none; total = input + output by default', () => {
    const reading = llm({
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.usage.input_tokens': 1000,
      'gen_ai.usage.output_tokens': 10,
    });
    expect(reading?.cost).toBe(pricing.costOf('gpt-4o-mini', 1000, 10));
    expect(reading?.totalTokens).toBe(1010);
  });
  it('latency from the start and end times (fixed64 nanoseconds)', () =>
    expect(llm({})?.latencyMs).toBe(1.5));
  it('agent spans never carry the summed usage of their LLM calls', () => {
    const reading = readSpan(
      span({ 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.usage.input_tokens': 500 }),
      pricing,
      0,
    );
    expect(reading).toMatchObject({ kind: 'task', inputTokens: 0, totalTokens: 0 });
  });
});

describe('tool-call counters (one test per row)', () => {
  const rows: Array<[string, Record<string, AttrValue>, number]> = [
    [
      'gen_ai.output.messages parts of type tool_call',
      {
        'gen_ai.output.messages': JSON.stringify([
          { role: 'assistant', parts: [{ type: 'tool_call' }, { type: 'tool_call' }] },
        ]),
      },
      2,
    ],
    [
      'gen_ai.completion.<i>.tool_calls.<j>.name (Traceloop)',
      { 'gen_ai.completion.0.tool_calls.0.name': 'a', 'gen_ai.completion.0.tool_calls.1.name': 'b' },
      2,
    ],
    [
      'llm.output_messages.<i>.message.tool_calls.<j>.tool_call.function.name (OpenInference)',
      { 'llm.output_messages.0.message.tool_calls.0.tool_call.function.name': 'a' },
      1,
    ],
    ['ai.response.toolCalls (Vercel AI SDK)', { 'ai.response.toolCalls': JSON.stringify([{}, {}, {}]) }, 3],
    [
      'finish reason tool_calls / tool_use / tool-calls (at least one call)',
      { 'gen_ai.response.finish_reasons': ['tool_use'] },
      1,
    ],
  ];
  it.each(rows)('%s', (rule, attributes, expected) => {
    expect(TOOL_CALL_COUNTERS.some((c) => c.rule === rule)).toBe(true);
    expect(readSpan(span({ 'gen_ai.operation.name': 'chat', ...attributes }), pricing, 0)?.toolCalls).toBe(
      expected,
    );
  });
});

describe('failure', () => {
  it('error status, error.type, or an exception event', () => {
    const chat = { 'gen_ai.operation.name': 'chat' };
    expect(readSpan(span(chat, { status: { code: 2, message: 'x' } }), pricing, 0)).toMatchObject({
      success: false,
      errorType: 'error',
    });
    expect(readSpan(span({ ...chat, 'error.type': 'RateLimitError' }), pricing, 0)).toMatchObject({
      success: false,
      errorType: 'RateLimitError',
    });
    const exception = {
      name: 'exception',
      timeUnixNano: 0n,
      attributes: new Map([['exception.type', 'APIError']]) as Attributes,
    };
    expect(readSpan(span(chat, { events: [exception] }), pricing, 0)).toMatchObject({
      success: false,
      errorType: 'APIError',
    });
    expect(readSpan(span(chat), pricing, 0)?.success).toBe(true);
  });
});

describe('prompt_hash equals the gateway’s in every dialect that captures content', () => {
  const hash = promptHashOf('Be brief.\nNever guess.');
  const rows: Array<[string, Record<string, AttrValue>]> = [
    [
      'gen_ai.system_instructions',
      {
        'gen_ai.system_instructions': JSON.stringify([
          { type: 'text', content: 'Be brief.' },
          { type: 'text', content: 'Never guess.' },
        ]),
      },
    ],
    [
      'gen_ai.input.messages',
      {
        'gen_ai.input.messages': JSON.stringify([
          { role: 'system', parts: [{ type: 'text', content: 'Be brief.' }] },
          { role: 'developer', parts: [{ type: 'text', content: 'Never guess.' }] },
          { role: 'user', parts: [{ type: 'text', content: 'hi' }] },
        ]),
      },
    ],
    [
      'gen_ai.prompt.<i> (Traceloop)',
      {
        'gen_ai.prompt.0.role': 'system',
        'gen_ai.prompt.0.content': 'Be brief.',
        'gen_ai.prompt.1.role': 'system',
        'gen_ai.prompt.1.content': 'Never guess.',
        'gen_ai.prompt.2.role': 'user',
        'gen_ai.prompt.2.content': 'hi',
      },
    ],
    [
      'llm.input_messages.<i> (OpenInference)',
      {
        'llm.input_messages.0.message.role': 'system',
        'llm.input_messages.0.message.contents.0.message_content.text': 'Be brief.',
        'llm.input_messages.0.message.contents.1.message_content.text': 'Never guess.',
        'llm.input_messages.1.message.role': 'user',
        'llm.input_messages.1.message.content': 'hi',
      },
    ],
    [
      'ai.prompt.messages (Vercel AI SDK)',
      { 'ai.prompt.messages': JSON.stringify([{ role: 'system', content: 'Be brief.\nNever guess.' }]) },
    ],
  ];
  it.each(rows)('%s', (_rule, attributes) => {
    expect(readSpan(span({ 'gen_ai.operation.name': 'chat', ...attributes }), pricing, 0)?.promptHash).toBe(
      hash,
    );
  });
  it('no content captured: no prompt hash', () => {
    expect(readSpan(span({ 'gen_ai.operation.name': 'chat' }), pricing, 0)?.promptHash).toBeUndefined();
  });
});

describe('agent identity', () => {
  it('resource attributes in order; the SDK default service name is no identity', () => {
    const resource = (attrs: Record<string, string>) => new Map(Object.entries(attrs)) as Attributes;
    expect(resourceAgent(resource({ 'service.name': 'svc', 'immune.agent.id': 'a1' }))).toBe('a1');
    expect(resourceAgent(resource({ 'service.name': 'svc', 'gen_ai.main_agent.id': 'm1' }))).toBe('m1');
    expect(resourceAgent(resource({ 'service.name': 'svc' }))).toBe('svc');
    expect(resourceAgent(resource({ 'service.name': 'unknown_service:node' }))).toBeUndefined();
  });
  it('a child span takes the agent its trace’s agent span names, in this export or a later one', () => {
    const traces = new TraceAgents();
    const request = (spans: OtlpSpan[]) => ({
      resourceSpans: [{ resource: new Map() as Attributes, scopeSpans: [{ scopeName: '', spans }] }],
    });
    const child = span({ 'gen_ai.operation.name': 'chat' }, { spanId: '0000000000000001' });
    const parent = span(
      { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'planner' },
      { spanId: '0000000000000002' },
    );
    const first = spansToVitals(request([child, parent]), { pricing, traces });
    expect(first.vitals.map((v) => v.agent_id)).toEqual(['planner', 'planner']);
    const later = spansToVitals(
      request([span({ 'gen_ai.operation.name': 'chat' }, { spanId: '0000000000000003' })]),
      { pricing, traces },
    );
    expect(later.vitals[0]?.agent_id).toBe('planner');
    const orphan = spansToVitals(
      request([span({ 'gen_ai.operation.name': 'chat' }, { traceId: 'ff'.repeat(16) })]),
      { pricing, traces },
    );
    expect(orphan).toMatchObject({ vitals: [], rejected: 1 });
  });
  it('the vital id is made of the trace and span ids, so a re-sent export has the same ids', () => {
    const traces = new TraceAgents();
    const request = {
      resourceSpans: [
        {
          resource: new Map([['service.name', 'svc']]) as Attributes,
          scopeSpans: [{ scopeName: '', spans: [span({ 'gen_ai.operation.name': 'chat' })] }],
        },
      ],
    };
    expect(spansToVitals(request, { pricing, traces }).vitals[0]?.id).toBe(
      'otlp-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331',
    );
  });
});

describe('OTLP/JSON decoding', () => {
  it('reads hex ids, int64 as strings, kvlist and array values; ignores unknown fields', () => {
    const decoded = decodeTraceRequestJson(
      JSON.stringify({
        resourceSpans: [
          {
            resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] },
            futureField: true,
            scopeSpans: [
              {
                scope: { name: 'scope' },
                spans: [
                  {
                    traceId: '0AF7651916CD43DD8448EB211C80319C',
                    spanId: 'b7ad6b7169203331',
                    name: 'chat',
                    startTimeUnixNano: '1700000000000000000',
                    endTimeUnixNano: 1700000000001000000,
                    status: { code: 2 },
                    attributes: [
                      { key: 'n', value: { intValue: '12' } },
                      { key: 'l', value: { arrayValue: { values: [{ stringValue: 'a' }] } } },
                      {
                        key: 'k',
                        value: { kvlistValue: { values: [{ key: 'x', value: { boolValue: true } }] } },
                      },
                      { key: 'b', value: { bytesValue: 'AQI=' } },
                    ],
                  },
                ],
              },
            ],
          },
        ],
      }),
    );
    const decodedSpan = decoded.resourceSpans[0]?.scopeSpans[0]?.spans[0];
    expect(decodedSpan?.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(decodedSpan?.startTimeUnixNano).toBe(1_700_000_000_000_000_000n);
    expect(decodedSpan?.status.code).toBe(2);
    expect(decodedSpan?.attributes.get('n')).toBe(12);
    expect(decodedSpan?.attributes.get('l')).toEqual(['a']);
    expect(decodedSpan?.attributes.get('k')).toEqual({ x: true });
    expect([...((decodedSpan?.attributes.get('b') as Uint8Array | undefined) ?? [])]).toEqual([1, 2]);
  });
  it('refuses base64 ids and wrong shapes, naming the field', () => {
    expect(() =>
      decodeTraceRequestJson('{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"Cvdl+Q=="}]}]}]}'),
    ).toThrow(/traceId must be hex/);
    expect(() => decodeTraceRequestJson('[]')).toThrow(/body must be an object/);
  });
});
