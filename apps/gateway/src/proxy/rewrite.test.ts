import { describe, expect, it } from 'vitest';
import { rewriteRequest } from './rewrite.js';

const none = { stripTools: false };

describe('rewriteRequest', () => {
  it('leaves an unaffected request untouched', () => {
    expect(rewriteRequest('chat', { model: 'gpt-4o', messages: [] }, none)).toEqual({
      body: undefined,
      hideUsage: false,
    });
    const asked = { model: 'gpt-4o', stream: true, stream_options: { include_usage: true } };
    expect(rewriteRequest('chat', asked, none)).toEqual({ body: undefined, hideUsage: false });
  });

  it('injects include_usage into chat streams and remembers to hide it', () => {
    const body = { model: 'gpt-4o', stream: true, messages: [] };
    const result = rewriteRequest('chat', body, none);
    expect(result.hideUsage).toBe(true);
    expect(result.body).toEqual({ ...body, stream_options: { include_usage: true } });
    expect(body).not.toHaveProperty('stream_options');
  });

  it('clamps max tokens in the field each API uses, and adds one when absent', () => {
    expect(
      rewriteRequest('chat', { model: 'gpt-4o', max_tokens: 4000 }, { ...none, maxTokens: 256 }).body,
    ).toEqual({
      model: 'gpt-4o',
      max_tokens: 256,
    });
    expect(
      rewriteRequest('chat', { model: 'gpt-4o', max_tokens: 100 }, { ...none, maxTokens: 256 }).body,
    ).toBeUndefined();
    expect(rewriteRequest('chat', { model: 'o3' }, { ...none, maxTokens: 256 }).body).toEqual({
      model: 'o3',
      max_completion_tokens: 256,
    });
    expect(rewriteRequest('chat', { model: 'gpt-4o' }, { ...none, maxTokens: 256 }).body).toEqual({
      model: 'gpt-4o',
      max_tokens: 256,
    });
    expect(rewriteRequest('responses', { model: 'gpt-4.1' }, { ...none, maxTokens: 64 }).body).toEqual({
      model: 'gpt-4.1',
      max_output_tokens: 64,
    });
    expect(
      rewriteRequest('messages', { model: 'claude', max_tokens: 1024 }, { ...none, maxTokens: 64 }).body,
    ).toEqual({
      model: 'claude',
      max_tokens: 64,
    });
  });

  it('pins the model, strips tools, or keeps only allowed tools', () => {
    const tools = [
      { type: 'function', function: { name: 'search' } },
      { type: 'function', function: { name: 'shell' } },
    ];
    expect(rewriteRequest('chat', { model: 'gpt-4o' }, { ...none, model: 'gpt-4o-mini' }).body).toEqual({
      model: 'gpt-4o-mini',
    });
    expect(
      rewriteRequest(
        'chat',
        { model: 'm', tools, tool_choice: 'auto', parallel_tool_calls: true },
        { stripTools: true },
      ).body,
    ).toEqual({ model: 'm' });
    expect(
      rewriteRequest(
        'chat',
        { model: 'm', tools, tool_choice: { type: 'function', function: { name: 'shell' } } },
        {
          stripTools: false,
          allowTools: new Set(['search']),
        },
      ).body,
    ).toEqual({ model: 'm', tools: [tools[0]], tool_choice: 'auto' });
    const anthropicTools = [
      { name: 'search', input_schema: {} },
      { name: 'shell', input_schema: {} },
    ];
    expect(
      rewriteRequest(
        'messages',
        { model: 'c', tools: anthropicTools },
        { stripTools: false, allowTools: new Set(['search']) },
      ).body,
    ).toEqual({ model: 'c', tools: [anthropicTools[0]] });
  });
});
