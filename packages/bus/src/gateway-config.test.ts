import { compileChecker } from '@immune/core';
import { describe, expect, it } from 'vitest';
import { GATEWAY_BUCKET, GatewayConfigEntry, gatewayKey } from './gateway-config.js';

describe('gateway config entries', () => {
  const checker = compileChecker(GatewayConfigEntry);

  it('accepts providers, routes and policies', () => {
    expect(
      checker.issues({
        kind: 'provider',
        provider: { name: 'vllm', kind: 'openai_compatible', base_url: 'http://vllm:8000/v1' },
      }),
    ).toEqual([]);
    expect(checker.check({ kind: 'route', route: { agent_id: 'a', openai: 'vllm' } })).toBe(true);
    expect(
      checker.check({
        kind: 'policy',
        policy: {
          id: 'cure-1',
          scope: { kind: 'agent', agent_id: 'a' },
          rules: { max_tokens: 256 },
          source: 'healer',
        },
      }),
    ).toBe(true);
  });

  it('refuses a provider URL with credentials or a query, and a key kept in the bucket', () => {
    const provider = (base_url: string, extra = {}) => ({
      kind: 'provider',
      provider: { name: 'x', kind: 'openai', base_url, ...extra },
    });
    expect(checker.check(provider('http://user:pass@host/v1'))).toBe(false);
    expect(checker.check(provider('http://host/v1?redirect=evil'))).toBe(false);
    expect(checker.check(provider('file:///etc/passwd'))).toBe(false);
    expect(checker.check(provider('https://api.openai.com/v1', { api_key: 'sk-secret' }))).toBe(false);
  });

  it('names keys per kind, in the gateway bucket', () => {
    expect(gatewayKey.policy('cure-1')).toBe('policy:cure-1');
    expect(GATEWAY_BUCKET.name).toBe('gateway');
  });
});
