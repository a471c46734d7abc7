import { describe, expect, it } from 'vitest';
import { requestHashOf } from './fingerprint.js';
import { RetryTracker } from './retry-tracker.js';

describe('request hash', () => {
  it('hashes the same request the same way, and different agents or bodies apart', () => {
    const a = requestHashOf('agent-1', '/v1/chat/completions', '{"x":1}');
    expect(a).toBe(requestHashOf('agent-1', '/v1/chat/completions', new TextEncoder().encode('{"x":1}')));
    expect(a).not.toBe(requestHashOf('agent-2', '/v1/chat/completions', '{"x":1}'));
    expect(a).not.toBe(requestHashOf('agent-1', '/v1/chat/completions', '{"x":2}'));
  });
});

describe('RetryTracker', () => {
  it('counts repeats within the window and forgets after it', () => {
    const tracker = new RetryTracker(1000);
    expect(tracker.observe('h', 0)).toBe(0);
    expect(tracker.observe('h', 100)).toBe(1);
    expect(tracker.observe('h', 200)).toBe(2);
    expect(tracker.observe('other', 250)).toBe(0);
    expect(tracker.observe('h', 1500)).toBe(0);
  });

  it('stays within its memory bound', () => {
    const tracker = new RetryTracker(60_000, 100);
    for (let i = 0; i < 1000; i++) tracker.observe(`h${i}`, i);
    expect(tracker.size).toBeLessThanOrEqual(100);
    expect(tracker.observe('h999', 1000)).toBe(1);
  });
});
