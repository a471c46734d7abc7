import { describe, expect, it } from 'vitest';
import { assertSafePath, type Provider, ProviderRegistry, UnsafePathError } from './providers.js';

const providers: Provider[] = [
  { name: 'openai', kind: 'openai', base_url: 'https://api.openai.com/v1' },
  { name: 'anthropic', kind: 'anthropic', base_url: 'https://api.anthropic.com' },
  { name: 'vllm', kind: 'openai_compatible', base_url: 'http://vllm.internal:8000/v1' },
  { name: 'ollama', kind: 'openai_compatible', base_url: 'http://ollama:11434' },
  {
    name: 'azure-eu',
    kind: 'azure',
    base_url: 'https://acme-eu.openai.azure.com',
    api_version: '2024-10-21',
    deployments: { 'gpt-4o': 'prod-gpt4o' },
    auth: { env: 'AZURE_OPENAI_KEY' },
  },
];

describe('ProviderRegistry', () => {
  const registry = new ProviderRegistry({ openai: 'openai', anthropic: 'anthropic', ollama: 'ollama' });
  registry.setProviders(providers);
  registry.setRoutes([
    { agent_id: 'local-agent', openai: 'vllm' },
    { agent_id: 'eu-agent', openai: 'azure-eu' },
  ]);

  it('routes per agent and falls back to the defaults', () => {
    expect(registry.providerFor('local-agent', 'openai')?.name).toBe('vllm');
    expect(registry.providerFor('local-agent', 'anthropic')?.name).toBe('anthropic');
    expect(registry.providerFor('anyone', 'openai')?.name).toBe('openai');
  });

  it('builds upstream URLs for OpenAI, compatible servers, Anthropic and Azure', () => {
    const at = (name: string, path: string, search = '', model?: string) => {
      const target = registry.target(
        registry.listProviders().find((p) => p.name === name)!,
        path,
        search,
        model,
      );
      return `${target.origin}${target.path}`;
    };
    expect(at('openai', '/v1/chat/completions')).toBe('https://api.openai.com/v1/chat/completions');
    expect(at('vllm', '/v1/models')).toBe('http://vllm.internal:8000/v1/models');
    expect(at('ollama', '/v1/chat/completions', '?x=1')).toBe('http://ollama:11434/v1/chat/completions?x=1');
    expect(at('anthropic', '/v1/messages')).toBe('https://api.anthropic.com/v1/messages');
    expect(at('azure-eu', '/v1/chat/completions', '', 'gpt-4o')).toBe(
      'https://acme-eu.openai.azure.com/openai/deployments/prod-gpt4o/chat/completions?api-version=2024-10-21',
    );
    expect(at('azure-eu', '/v1/embeddings', '', 'text-embedding-3-small')).toBe(
      'https://acme-eu.openai.azure.com/openai/deployments/text-embedding-3-small/embeddings?api-version=2024-10-21',
    );
    expect(() => at('azure-eu', '/v1/chat/completions', '', '../x')).toThrow(UnsafePathError);
  });
});

describe('assertSafePath (no SSRF through the proxy)', () => {
  it('accepts plain /v1 paths', () => {
    expect(() => assertSafePath('/v1/chat/completions')).not.toThrow();
    expect(() => assertSafePath('/v1/files/file-abc/content')).not.toThrow();
  });

  it.each([
    '/v1/../internal',
    '/v1/./x',
    '/v1//evil.example.com/x',
    '/v1/%2e%2e/secret',
    '/v1/a%2fb',
    '/v1/@evil.example.com',
    '/v1/a\\b',
  ])('refuses %s', (path) => {
    expect(() => assertSafePath(path)).toThrow(UnsafePathError);
  });
});
