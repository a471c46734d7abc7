import { describe, expect, it } from 'vitest';
import { MicroBatcher } from './micro-batcher.js';

describe('MicroBatcher', () => {
  it('writes what was added in one turn together, and caps a batch at maxItems', async () => {
    const writes: number[][] = [];
    const batcher = new MicroBatcher<number>(async (items) => void writes.push(items), 3);
    await Promise.all([1, 2, 3, 4, 5].map((n) => batcher.add(n)));
    await batcher.add(6);
    expect(writes).toEqual([[1, 2, 3], [4, 5], [6]]);
  });

  it('rejects every add of a failed batch, and the next batch starts afresh', async () => {
    let fail = true;
    const batcher = new MicroBatcher<string>(async () => {
      if (fail) throw new Error('database down');
    });
    const results = await Promise.allSettled([batcher.add('a'), batcher.add('b')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    await expect(batcher.add('c')).resolves.toBeUndefined();
  });
});
