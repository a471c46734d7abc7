import { describe, expect, it } from 'vitest';
import { promptHashOf, systemPromptOf } from './system-prompt.js';

describe('system prompt extraction', () => {
  it('takes system and developer messages from chat, instructions from Responses, system from Anthropic', () => {
    const chat = {
      model: 'gpt-4o',
      messages: [
        { role: 'system', content: 'You are a researcher.' },
        { role: 'developer', content: [{ type: 'text', text: 'Cite sources.' }] },
        { role: 'user', content: 'hello' },
      ],
    };
    expect(systemPromptOf('chat', chat)).toBe('You are a researcher.\nCite sources.');
    expect(systemPromptOf('responses', { instructions: 'Be brief.', input: 'hi' })).toBe('Be brief.');
    expect(
      systemPromptOf('responses', {
        instructions: 'Be brief.',
        input: [{ role: 'developer', content: [{ type: 'input_text', text: 'No jokes.' }] }],
      }),
    ).toBe('Be brief.\nNo jokes.');
    expect(systemPromptOf('messages', { system: [{ type: 'text', text: 'Analyst.' }], messages: [] })).toBe(
      'Analyst.',
    );
    expect(systemPromptOf('messages', { system: 'Plain.' })).toBe('Plain.');
    expect(systemPromptOf('chat', { messages: [{ role: 'user', content: 'x' }] })).toBeUndefined();
    expect(systemPromptOf('embeddings', { input: 'x' })).toBeUndefined();
  });

  it('hashes a prompt as SHA-256 hex of its UTF-8 bytes (pinned: stored hashes must never change)', () => {
    expect(promptHashOf('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(promptHashOf('Réponds en français.')).toBe(promptHashOf('Réponds en français.'));
    expect(promptHashOf('a')).not.toBe(promptHashOf('b'));
  });
});
