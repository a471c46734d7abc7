import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  outcomeOfResult,
  requestHashOf,
  startToolCall,
  toolVital,
  traceIdOf,
} from './tool-call.js';

describe('tool call facts', () => {
  it('hashes arguments canonically, without _meta or ids', () => {
    expect(canonicalJson({ b: [1, { d: 2, c: null }], a: 'x', u: undefined })).toBe(
      '{"a":"x","b":[1,{"c":null,"d":2}]}',
    );
    const h = (args: unknown) => requestHashOf('agent', 'srv', 'search', args);
    expect(h({ q: 'x', n: 1 })).toBe(h({ n: 1, q: 'x' }));
    expect(h({ q: 'x' })).not.toBe(h({ q: 'y' }));
    expect(requestHashOf('other', 'srv', 'search', { q: 'x' })).not.toBe(h({ q: 'x' }));
    const a = startToolCall({
      agentId: 'agent',
      server: 'srv',
      params: { name: 'search', arguments: { q: 'x' }, _meta: { progressToken: 7 } },
      headerTraceparent: undefined,
      now: 1000,
    });
    const b = startToolCall({
      agentId: 'agent',
      server: 'srv',
      params: { name: 'search', arguments: { q: 'x' }, _meta: { progressToken: 8 } },
      headerTraceparent: undefined,
      now: 2000,
    });
    expect(a.requestHash).toBe(b.requestHash);
    expect(a.vitalId).not.toBe(b.vitalId);
  });

  it('reads the trace id from _meta.traceparent, else the header', () => {
    const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    expect(traceIdOf(tp)).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(traceIdOf('00-00000000000000000000000000000000-b7ad6b7169203331-01')).toBeUndefined();
    expect(traceIdOf('garbage')).toBeUndefined();
    const call = startToolCall({
      agentId: 'a',
      server: 's',
      params: { name: 't', _meta: { traceparent: tp } },
      headerTraceparent: '00-11111111111111111111111111111111-b7ad6b7169203331-01',
      now: 0,
    });
    expect(call.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
  });

  it('builds one tool vital per outcome', () => {
    const call = startToolCall({
      agentId: 'a',
      server: 's',
      params: { name: 't' },
      headerTraceparent: undefined,
      now: 1000,
    });
    expect(toolVital(call, { success: true }, 1250.5)).toMatchObject({
      source: 'mcp',
      kind: 'tool',
      ts: 1250,
      latency_ms: 250.5,
      tool_calls: 1,
      success: true,
      tool_name: 't',
      mcp_server: 's',
    });
    expect(toolVital(call, { success: false, errorType: 'cancelled' }, 1000).error_type).toBe('cancelled');
    expect(outcomeOfResult({ isError: true })).toEqual({ success: false, errorType: 'tool_error' });
    expect(outcomeOfResult({ resultType: 'input_required', inputRequests: {} })).toBe('input_required');
    expect(outcomeOfResult({ content: [] })).toEqual({ success: true });
  });
});
