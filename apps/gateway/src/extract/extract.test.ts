import { describe, expect, it } from 'vitest';
import { MessagesStreamTap, observeMessage } from './anthropic.js';
import { errorTypeOf } from './observation.js';
import { ChatStreamTap, observeChatCompletion } from './openai-chat.js';
import { observeResponse, ResponsesStreamTap } from './openai-responses.js';
import { type SseEvent, SseParser } from './sse.js';

const events = (text: string): SseEvent[] => {
  const parser = new SseParser();
  return [...parser.push(text), ...parser.end()];
};

describe('OpenAI chat completions', () => {
  it('reads usage and tool calls from a non-streamed completion', () => {
    const body = {
      id: 'chatcmpl-1',
      object: 'chat.completion',
      model: 'gpt-4o-mini-2024-07-18',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: null,
            tool_calls: [
              { id: 'c1', type: 'function', function: { name: 'a', arguments: '{}' } },
              { id: 'c2', type: 'function', function: { name: 'b', arguments: '{}' } },
            ],
          },
          finish_reason: 'tool_calls',
        },
      ],
      usage: { prompt_tokens: 82, completion_tokens: 17, total_tokens: 99 },
    };
    expect(observeChatCompletion(200, body, 'gpt-4o-mini')).toEqual({
      model: 'gpt-4o-mini-2024-07-18',
      input_tokens: 82,
      output_tokens: 17,
      total_tokens: 99,
      tool_calls: 2,
      error_type: undefined,
    });
  });

  it('classifies error bodies', () => {
    const body = { error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } };
    expect(observeChatCompletion(429, body, 'gpt-4o').error_type).toBe('rate_limit_exceeded');
    expect(errorTypeOf(429, { error: { status: 'RESOURCE_EXHAUSTED', code: 429 } })).toBe(
      'RESOURCE_EXHAUSTED',
    );
    expect(observeChatCompletion(502, 'Bad gateway', 'gpt-4o').error_type).toBe('http_502');
    expect(errorTypeOf(429, {})).toBe('rate_limit_error');
  });

  const stream =
    'data: {"id":"c","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"t1","type":"function","function":{"name":"get","arguments":""}}]},"finish_reason":null}],"usage":null}\n\n' +
    'data: {"id":"c","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\\"q\\":1}"}}]},"finish_reason":null}],"usage":null}\n\n' +
    'data: {"id":"c","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"t2","type":"function","function":{"name":"put","arguments":"{}"}}]},"finish_reason":"tool_calls"}],"usage":null}\n\n' +
    'data: {"id":"c","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":40,"completion_tokens":12,"total_tokens":52}}\n\n' +
    'data: [DONE]\n\n';

  it('counts streamed tool-call deltas once per call and reads the usage chunk', () => {
    const tap = new ChatStreamTap('gpt-4o-mini', false);
    const decisions = events(stream).map((e) => tap.onEvent(e));
    expect(decisions).toEqual(['forward', 'forward', 'forward', 'forward', 'forward']);
    expect(tap.result()).toMatchObject({
      input_tokens: 40,
      output_tokens: 12,
      total_tokens: 52,
      tool_calls: 2,
    });
    expect(tap.result().usageMissing).toBe(false);
  });

  it('hides the injected usage chunk and usage:null fields from a client that did not ask', () => {
    const tap = new ChatStreamTap('gpt-4o-mini', true);
    const decisions = events(stream).map((e) => tap.onEvent(e));
    expect(decisions[3]).toBe('drop');
    expect(decisions[4]).toBe('forward');
    const rewritten = decisions[0] as { data: string };
    expect(JSON.parse(rewritten.data)).not.toHaveProperty('usage');
    expect(JSON.parse(rewritten.data).choices[0].delta.tool_calls[0].id).toBe('t1');
    expect(tap.result()).toMatchObject({ input_tokens: 40, output_tokens: 12, tool_calls: 2 });
  });

  it('notices a stream that ended before its usage', () => {
    const tap = new ChatStreamTap('gpt-4o', true);
    tap.onEvent({
      event: undefined,
      data: '{"choices":[{"index":0,"delta":{"content":"hi"}}],"usage":null}',
      id: undefined,
    });
    expect(tap.result().usageMissing).toBe(true);
  });
});

describe('OpenAI Responses API', () => {
  const response = {
    id: 'resp_1',
    object: 'response',
    status: 'completed',
    model: 'gpt-4.1-2025-04-14',
    output: [
      { type: 'function_call', id: 'fc_1', call_id: 'call_1', name: 'lookup', arguments: '{}' },
      { type: 'message', id: 'msg_1', role: 'assistant', content: [{ type: 'output_text', text: 'ok' }] },
    ],
    usage: {
      input_tokens: 120,
      output_tokens: 30,
      total_tokens: 150,
      output_tokens_details: { reasoning_tokens: 0 },
    },
  };

  it('reads a non-streamed response', () => {
    expect(observeResponse(200, response, 'gpt-4.1')).toEqual({
      model: 'gpt-4.1-2025-04-14',
      input_tokens: 120,
      output_tokens: 30,
      total_tokens: 150,
      tool_calls: 1,
      error_type: undefined,
    });
  });

  it('reads usage from response.completed in a stream', () => {
    const tap = new ResponsesStreamTap('gpt-4.1');
    const text =
      `event: response.created\ndata: ${JSON.stringify({ type: 'response.created', response: { ...response, status: 'in_progress', output: [], usage: null } })}\n\n` +
      `event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"ok"}\n\n` +
      `event: response.completed\ndata: ${JSON.stringify({ type: 'response.completed', response })}\n\n`;
    for (const e of events(text)) tap.onEvent(e);
    expect(tap.result()).toMatchObject({
      input_tokens: 120,
      output_tokens: 30,
      tool_calls: 1,
      usageMissing: false,
    });
  });

  it('marks failed responses', () => {
    const failed = { ...response, status: 'failed', error: { code: 'server_error', message: 'boom' } };
    expect(observeResponse(200, failed).error_type).toBe('server_error');
  });
});

describe('Anthropic Messages', () => {
  it('reads a non-streamed message with cache tokens and tool use', () => {
    const body = {
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-20250514',
      content: [
        { type: 'text', text: 'Let me check.' },
        { type: 'tool_use', id: 'tu_1', name: 'get_weather', input: { city: 'Paris' } },
      ],
      stop_reason: 'tool_use',
      usage: {
        input_tokens: 300,
        cache_creation_input_tokens: 20,
        cache_read_input_tokens: 100,
        output_tokens: 45,
      },
    };
    expect(observeMessage(200, body, 'claude-sonnet-4')).toEqual({
      model: 'claude-sonnet-4-20250514',
      input_tokens: 420,
      output_tokens: 45,
      total_tokens: undefined,
      tool_calls: 1,
      error_type: undefined,
    });
    expect(
      observeMessage(529, { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })
        .error_type,
    ).toBe('overloaded_error');
  });

  it('reads a stream: input from message_start, cumulative output from message_delta', () => {
    const tap = new MessagesStreamTap('claude-3-5-haiku-latest');
    const text =
      'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-3-5-haiku-20241022","content":[],"stop_reason":null,"usage":{"input_tokens":25,"output_tokens":1}}}\n\n' +
      'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n' +
      'event: ping\ndata: {"type": "ping"}\n\n' +
      'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}\n\n' +
      'event: content_block_start\ndata: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"tu","name":"x","input":{}}}\n\n' +
      'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":15}}\n\n' +
      'event: message_stop\ndata: {"type":"message_stop"}\n\n';
    for (const e of events(text)) tap.onEvent(e);
    expect(tap.result()).toEqual({
      model: 'claude-3-5-haiku-20241022',
      input_tokens: 25,
      output_tokens: 15,
      total_tokens: undefined,
      tool_calls: 1,
      error_type: undefined,
      usageMissing: false,
    });
  });

  it('records an error event mid-stream', () => {
    const tap = new MessagesStreamTap('claude');
    for (const e of events(
      'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n',
    )) {
      tap.onEvent(e);
    }
    expect(tap.result().error_type).toBe('overloaded_error');
  });
});
