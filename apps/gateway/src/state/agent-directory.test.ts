import { describe, expect, it } from 'vitest';
import { AgentDirectory } from './agent-directory.js';

describe('AgentDirectory', () => {
  it('forgets the least recently seen agents first', () => {
    const directory = new AgentDirectory(5, 3);
    directory.touch('a', 'header', 1);
    directory.touch('b', 'header', 2);
    directory.touch('c', 'header', 3);
    // Seeing `a` again makes `b` the oldest.
    expect(directory.touch('a', 'header', 4)).toBe(false);
    expect(directory.touch('d', 'header', 5)).toBe(true);
    expect(directory.list().map((s) => s.agent_id)).toEqual(['c', 'a', 'd']);
    expect(directory.get('b')).toBeUndefined();
  });

  it('stays bounded and fast with many agents', () => {
    const directory = new AgentDirectory(1, 20_000);
    for (let i = 0; i < 100_000; i++) directory.touch(`agent-${i}`, 'api_key', i);
    expect(directory.totals().agents).toBeLessThanOrEqual(20_000);
    expect(directory.get('agent-99999')).toBeDefined();
    expect(directory.get('agent-79999')).toBeUndefined();
  });
});
