import { compileChecker } from '@immune/core';
import { describe, expect, it } from 'vitest';
import { GatewayConfigEntry } from './gateway-config.js';
import { MCP_PENDING_BUCKET, McpPendingCall } from './mcp-pending.js';

describe('MCP proxy bus data', () => {
  it('validates a pending tool call and refuses unknown fields', () => {
    const checker = compileChecker(McpPendingCall);
    const call = {
      agent_id: 'research-1',
      session: 'sess-1',
      tool: 'search',
      server: 'docs',
      started_at: 1_700_000_000_000,
      request_hash: 'ab'.repeat(16),
      vital_id: 'v-1',
    };
    expect(checker.issues(call)).toEqual([]);
    expect(checker.check({ ...call, trace_id: '0af7651916cd43dd8448eb211c80319c' })).toBe(true);
    expect(checker.check({ ...call, arguments: { q: 'x' } })).toBe(false);
    expect(checker.check({ ...call, vital_id: '' })).toBe(false);
    expect(MCP_PENDING_BUCKET.name).toBe('mcp_pending');
  });

  it('carries tool rules in gateway policies', () => {
    const checker = compileChecker(GatewayConfigEntry);
    const policy = (rules: Record<string, unknown>) => ({
      kind: 'policy',
      policy: { id: 'p', scope: { kind: 'global' }, rules, source: 'operator' },
    });
    expect(
      checker.check(
        policy({
          deny_tools: ['shell'],
          tool_calls_per_minute: 30,
          tool_calls_per_minute_by_tool: { search: 5 },
        }),
      ),
    ).toBe(true);
    expect(checker.check(policy({ tool_calls_per_minute: -1 }))).toBe(false);
    expect(checker.check(policy({ deny_tools: [''] }))).toBe(false);
  });
});
