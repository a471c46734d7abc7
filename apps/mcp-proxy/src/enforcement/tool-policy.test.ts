import type { Policy } from '@immune/bus';
import { describe, expect, it } from 'vitest';
import { ToolPolicy } from './tool-policy.js';

const policy = (id: string, rules: Policy['rules'], scope: Policy['scope'] = { kind: 'global' }): Policy => ({
  id,
  scope,
  rules,
  source: 'operator',
});

describe('ToolPolicy', () => {
  it('refuses revoked, denied and unlisted tools, naming the rule and policy', () => {
    const tp = new ToolPolicy();
    tp.setPolicies([
      policy('deny-shell', { deny_tools: ['shell'] }),
      policy('cure', { allow_tools: ['search', 'shell'] }, { kind: 'agent', agent_id: 'a1' }),
      policy('revoke', { strip_tools: true }, { kind: 'agent', agent_id: 'a2' }),
    ]);
    expect(tp.check('a1', undefined, 'search', 0)).toBeUndefined();
    expect(tp.check('a1', undefined, 'shell', 0)).toMatchObject({
      rule: 'deny_tools',
      policy: 'deny-shell',
      code: -31002,
    });
    expect(tp.check('a1', undefined, 'fetch', 0)).toMatchObject({ rule: 'allow_tools', policy: 'cure' });
    expect(tp.check('a3', undefined, 'fetch', 0)).toBeUndefined();
    expect(tp.check('a2', undefined, 'search', 0)).toMatchObject({ rule: 'strip_tools', policy: 'revoke' });
  });

  it('limits calls per minute per agent and tool, with per-tool overrides', () => {
    const tp = new ToolPolicy();
    tp.setPolicies([
      policy('rate', { tool_calls_per_minute: 2, tool_calls_per_minute_by_tool: { slow: 1 } }),
    ]);
    expect(tp.check('a', undefined, 'x', 0)).toBeUndefined();
    expect(tp.check('a', undefined, 'x', 1)).toBeUndefined();
    expect(tp.check('a', undefined, 'x', 2)).toMatchObject({ rule: 'tool_calls_per_minute', code: -31003 });
    expect(tp.check('b', undefined, 'x', 2)).toBeUndefined();
    expect(tp.check('a', undefined, 'y', 2)).toBeUndefined();
    expect(tp.check('a', undefined, 'slow', 2)).toBeUndefined();
    expect(tp.check('a', undefined, 'slow', 3)).toMatchObject({ rule: 'tool_calls_per_minute' });
    // Refills at the limit's rate: one call back after 30 s.
    expect(tp.check('a', undefined, 'x', 30_010)).toBeUndefined();
  });

  it('ignores expired policies', () => {
    const tp = new ToolPolicy();
    tp.setPolicies([{ ...policy('old', { strip_tools: true }), expires_at: 100 }]);
    expect(tp.check('a', undefined, 'x', 50)).toBeDefined();
    expect(tp.check('a', undefined, 'x', 150)).toBeUndefined();
  });
});
