import { describe, expect, it } from 'vitest';
import { apiKeyOf, identifyAgent, keyFingerprint } from './agent-identity.js';

describe('identifyAgent', () => {
  it('prefers the explicit header, then the key fingerprint, then IP + User-Agent', () => {
    const key = 'sk-test-1234567890';
    expect(
      identifyAgent({ 'x-immune-agent': 'research-1', authorization: `Bearer ${key}` }, '10.0.0.1'),
    ).toEqual({
      agentId: 'research-1',
      identity: 'header',
    });
    const byKey = identifyAgent({ authorization: `Bearer ${key}` }, '10.0.0.1');
    expect(byKey).toEqual({ agentId: keyFingerprint(key), identity: 'api_key' });
    expect(JSON.stringify(byKey)).not.toContain(key);
    const anon = identifyAgent({ 'user-agent': 'OpenAI/JS 5.0' }, '10.0.0.1');
    expect(anon).toMatchObject({
      identity: 'ip_user_agent',
      agentId: expect.stringMatching(/^anon-[0-9a-f]{16}$/),
    });
    expect(identifyAgent({ 'user-agent': 'OpenAI/JS 5.0' }, '10.0.0.2')).not.toEqual(anon);
  });

  it('reads keys the way each SDK sends them', () => {
    expect(apiKeyOf({ authorization: 'Bearer sk-a' })).toBe('sk-a');
    expect(apiKeyOf({ 'x-api-key': 'sk-ant-b' })).toBe('sk-ant-b');
    expect(apiKeyOf({ 'api-key': 'azure-c' })).toBe('azure-c');
    expect(apiKeyOf({})).toBeUndefined();
  });

  it('follows a configured order and reports an unusable explicit header', () => {
    const options = { order: ['api_key', 'header'] as const, header: 'x-immune-agent' };
    expect(identifyAgent({ 'x-immune-agent': 'a', 'x-api-key': 'k' }, '::1', options)).toMatchObject({
      identity: 'api_key',
    });
    expect(identifyAgent({ 'x-immune-agent': 'bad\nname' }, '::1')).toEqual({
      error: 'x-immune-agent must be 1-256 printable ASCII characters',
    });
    expect(identifyAgent({}, '::1', { order: ['header'], header: 'x-immune-agent' })).toMatchObject({
      error: expect.stringMatching(/no agent identity/),
    });
  });
});
