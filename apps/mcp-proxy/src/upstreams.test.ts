import { describe, expect, it } from 'vitest';
import { UpstreamTable } from './upstreams.js';

const table = new UpstreamTable([
  { name: 'root', prefix: '/', url: 'http://root:3000' },
  { name: 'github', prefix: '/github', url: 'http://gh:3000/api' },
  { name: 'deep', prefix: '/github/deep', url: 'http://deep:1' },
]);

describe('UpstreamTable', () => {
  it('maps by the longest whole-segment prefix, keeping the query', () => {
    expect(table.resolve('/github/mcp?x=1')).toMatchObject({
      upstream: { name: 'github' },
      url: 'http://gh:3000/api/mcp?x=1',
    });
    expect(table.resolve('/github')?.url).toBe('http://gh:3000/api');
    expect(table.resolve('/githubx/mcp')?.upstream.name).toBe('root');
    expect(table.resolve('/github/deep/sse')?.url).toBe('http://deep:1/sse');
    expect(table.resolve('/mcp')?.url).toBe('http://root:3000/mcp');
    expect(table.resolve('/github/../admin')).toBeUndefined();
    expect(table.resolve('/github/%2e%2e/admin')).toBeUndefined();
  });

  it('rewrites a legacy endpoint event for the client', () => {
    const github = table.list().find((u) => u.name === 'github');
    if (github === undefined) throw new Error('missing');
    expect(table.endpointForClient(github, '/api/messages?sessionId=abc', 'http://proxy:4001')).toBe(
      '/github/messages?sessionId=abc',
    );
    expect(
      table.endpointForClient(github, 'http://gh:3000/api/messages?sessionId=abc', 'http://proxy:4001'),
    ).toBe('http://proxy:4001/github/messages?sessionId=abc');
    expect(table.endpointForClient(github, 'messages?sessionId=abc', 'http://proxy:4001')).toBe(
      'messages?sessionId=abc',
    );
    const root = table.list().find((u) => u.name === 'root');
    if (root === undefined) throw new Error('missing');
    expect(table.endpointForClient(root, '/messages?sessionId=1', 'http://p')).toBe('/messages?sessionId=1');
  });

  it('refuses a name or prefix used twice', () => {
    expect(
      () =>
        new UpstreamTable([
          { name: 'a', prefix: '/x', url: 'http://a' },
          { name: 'a', prefix: '/y', url: 'http://b' },
        ]),
    ).toThrow(/name a/);
  });
});
