/** Builders for the providers' wire objects, shaped exactly like the real APIs answer. */

export interface Answer {
  model: string;
  id: string;
  created: number;
  inputTokens: number;
  words: string[];
  tools: Array<{ id: string; name: string; arguments: string }>;
}

export const outputTokens = (answer: Answer) => answer.words.length + answer.tools.length * 5;
export const text = (answer: Answer) => answer.words.join(' ');

export function chatCompletion(answer: Answer) {
  const hasTools = answer.tools.length > 0;
  return {
    id: `chatcmpl-${answer.id}`,
    object: 'chat.completion',
    created: answer.created,
    model: answer.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: hasTools ? null : text(answer),
          refusal: null,
          ...(hasTools
            ? {
                tool_calls: answer.tools.map((t) => ({
                  id: t.id,
                  type: 'function',
                  function: { name: t.name, arguments: t.arguments },
                })),
              }
            : {}),
        },
        logprobs: null,
        finish_reason: hasTools ? 'tool_calls' : 'stop',
      },
    ],
    usage: {
      prompt_tokens: answer.inputTokens,
      completion_tokens: outputTokens(answer),
      total_tokens: answer.inputTokens + outputTokens(answer),
    },
    system_fingerprint: 'fp_mock',
  };
}

/** The chunks of a streamed chat completion, without SSE framing. */
export function chatChunks(answer: Answer, includeUsage: boolean): unknown[] {
  const base = {
    id: `chatcmpl-${answer.id}`,
    object: 'chat.completion.chunk',
    created: answer.created,
    model: answer.model,
    system_fingerprint: 'fp_mock',
  };
  const usageNull = includeUsage ? { usage: null } : {};
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({
    ...base,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...usageNull,
  });
  const chunks: unknown[] = [
    chunk({ role: 'assistant', content: answer.tools.length > 0 ? null : '', refusal: null }),
  ];
  if (answer.tools.length > 0) {
    answer.tools.forEach((t, index) => {
      chunks.push(
        chunk({
          tool_calls: [{ index, id: t.id, type: 'function', function: { name: t.name, arguments: '' } }],
        }),
      );
      chunks.push(chunk({ tool_calls: [{ index, function: { arguments: t.arguments } }] }));
    });
    chunks.push(chunk({}, 'tool_calls'));
  } else {
    answer.words.forEach((word, i) => {
      chunks.push(chunk({ content: i === 0 ? word : ` ${word}` }));
    });
    chunks.push(chunk({}, 'stop'));
  }
  if (includeUsage) {
    chunks.push({
      ...base,
      choices: [],
      usage: {
        prompt_tokens: answer.inputTokens,
        completion_tokens: outputTokens(answer),
        total_tokens: answer.inputTokens + outputTokens(answer),
      },
    });
  }
  return chunks;
}

export function legacyCompletion(answer: Answer) {
  return {
    id: `cmpl-${answer.id}`,
    object: 'text_completion',
    created: answer.created,
    model: answer.model,
    choices: [{ text: text(answer), index: 0, logprobs: null, finish_reason: 'stop' }],
    usage: {
      prompt_tokens: answer.inputTokens,
      completion_tokens: outputTokens(answer),
      total_tokens: answer.inputTokens + outputTokens(answer),
    },
  };
}

export function responseObject(answer: Answer, status: 'in_progress' | 'completed', instructions: unknown) {
  const done = status === 'completed';
  const output = done
    ? [
        ...answer.tools.map((t) => ({
          type: 'function_call',
          id: `fc_${t.id}`,
          call_id: t.id,
          name: t.name,
          arguments: t.arguments,
          status: 'completed',
        })),
        ...(answer.tools.length > 0 ? [] : [messageItem(answer, 'completed')]),
      ]
    : [];
  return {
    id: `resp_${answer.id}`,
    object: 'response',
    created_at: answer.created,
    status,
    error: null,
    incomplete_details: null,
    instructions: instructions ?? null,
    max_output_tokens: null,
    model: answer.model,
    output,
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    store: true,
    temperature: 1,
    text: { format: { type: 'text' } },
    tool_choice: 'auto',
    tools: [],
    top_p: 1,
    truncation: 'disabled',
    usage: done
      ? {
          input_tokens: answer.inputTokens,
          input_tokens_details: { cached_tokens: 0 },
          output_tokens: outputTokens(answer),
          output_tokens_details: { reasoning_tokens: 0 },
          total_tokens: answer.inputTokens + outputTokens(answer),
        }
      : null,
    user: null,
    metadata: {},
  };
}

function messageItem(answer: Answer, status: 'in_progress' | 'completed') {
  return {
    type: 'message',
    id: `msg_${answer.id}`,
    status,
    role: 'assistant',
    content: status === 'completed' ? [{ type: 'output_text', text: text(answer), annotations: [] }] : [],
  };
}

/** Responses API stream events as [event name, payload] pairs. */
export function responseEvents(
  answer: Answer,
  instructions: unknown,
): Array<[string, Record<string, unknown>]> {
  const events: Array<[string, Record<string, unknown>]> = [];
  let sequence = 0;
  const push = (type: string, payload: Record<string, unknown>) =>
    events.push([type, { type, sequence_number: sequence++, ...payload }]);
  push('response.created', { response: responseObject(answer, 'in_progress', instructions) });
  push('response.in_progress', { response: responseObject(answer, 'in_progress', instructions) });
  if (answer.tools.length > 0) {
    answer.tools.forEach((t, outputIndex) => {
      const item = {
        type: 'function_call',
        id: `fc_${t.id}`,
        call_id: t.id,
        name: t.name,
        arguments: '',
        status: 'in_progress',
      };
      push('response.output_item.added', { output_index: outputIndex, item });
      push('response.function_call_arguments.delta', {
        item_id: item.id,
        output_index: outputIndex,
        delta: t.arguments,
      });
      push('response.function_call_arguments.done', {
        item_id: item.id,
        output_index: outputIndex,
        arguments: t.arguments,
      });
      push('response.output_item.done', {
        output_index: outputIndex,
        item: { ...item, arguments: t.arguments, status: 'completed' },
      });
    });
  } else {
    const itemId = `msg_${answer.id}`;
    const location = { item_id: itemId, output_index: 0, content_index: 0 };
    push('response.output_item.added', { output_index: 0, item: messageItem(answer, 'in_progress') });
    push('response.content_part.added', {
      ...location,
      part: { type: 'output_text', text: '', annotations: [] },
    });
    answer.words.forEach((word, i) => {
      push('response.output_text.delta', { ...location, delta: i === 0 ? word : ` ${word}` });
    });
    push('response.output_text.done', { ...location, text: text(answer) });
    push('response.content_part.done', {
      ...location,
      part: { type: 'output_text', text: text(answer), annotations: [] },
    });
    push('response.output_item.done', { output_index: 0, item: messageItem(answer, 'completed') });
  }
  push('response.completed', { response: responseObject(answer, 'completed', instructions) });
  return events;
}

export function anthropicMessage(answer: Answer) {
  const hasTools = answer.tools.length > 0;
  return {
    id: `msg_${answer.id}`,
    type: 'message',
    role: 'assistant',
    model: answer.model,
    content: hasTools
      ? answer.tools.map((t) => ({
          type: 'tool_use',
          id: t.id,
          name: t.name,
          input: JSON.parse(t.arguments) as unknown,
        }))
      : [{ type: 'text', text: text(answer) }],
    stop_reason: hasTools ? 'tool_use' : 'end_turn',
    stop_sequence: null,
    usage: {
      input_tokens: answer.inputTokens,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      output_tokens: outputTokens(answer),
    },
  };
}

/** Anthropic Messages stream events as [event name, payload] pairs. */
export function anthropicEvents(answer: Answer): Array<[string, Record<string, unknown>]> {
  const message = anthropicMessage(answer);
  const events: Array<[string, Record<string, unknown>]> = [
    [
      'message_start',
      {
        type: 'message_start',
        message: {
          ...message,
          content: [],
          stop_reason: null,
          usage: { ...message.usage, output_tokens: 1 },
        },
      },
    ],
  ];
  if (answer.tools.length > 0) {
    answer.tools.forEach((t, index) => {
      events.push([
        'content_block_start',
        {
          type: 'content_block_start',
          index,
          content_block: { type: 'tool_use', id: t.id, name: t.name, input: {} },
        },
      ]);
      events.push([
        'content_block_delta',
        {
          type: 'content_block_delta',
          index,
          delta: { type: 'input_json_delta', partial_json: t.arguments },
        },
      ]);
      events.push(['content_block_stop', { type: 'content_block_stop', index }]);
    });
  } else {
    events.push([
      'content_block_start',
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
    ]);
    events.push(['ping', { type: 'ping' }]);
    answer.words.forEach((word, i) => {
      events.push([
        'content_block_delta',
        {
          type: 'content_block_delta',
          index: 0,
          delta: { type: 'text_delta', text: i === 0 ? word : ` ${word}` },
        },
      ]);
    });
    events.push(['content_block_stop', { type: 'content_block_stop', index: 0 }]);
  }
  events.push([
    'message_delta',
    {
      type: 'message_delta',
      delta: { stop_reason: message.stop_reason, stop_sequence: null },
      usage: { output_tokens: outputTokens(answer) },
    },
  ]);
  events.push(['message_stop', { type: 'message_stop' }]);
  return events;
}
