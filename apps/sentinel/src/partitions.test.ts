import { describe, expect, it } from 'vitest';
import { ordinalPartitions, ownedPartitions } from './config.js';

describe('partitions from the StatefulSet ordinal', () => {
  it('gives replica i of N the partitions p with p mod N = i, disjoint and covering all', () => {
    expect(ordinalPartitions('immune-sentinel-0', 4, 16)).toEqual([0, 4, 8, 12]);
    expect(ordinalPartitions('immune-sentinel-3', 4, 16)).toEqual([3, 7, 11, 15]);
    const all = [0, 1, 2].flatMap((i) => ordinalPartitions(`s-${i}`, 3, 16));
    expect(all.sort((a, b) => a - b)).toEqual(Array.from({ length: 16 }, (_, p) => p));
  });
  it('refuses a name without an ordinal, a missing or too small replica count, more replicas than partitions', () => {
    expect(() => ordinalPartitions('sentinel', 2, 16)).toThrow('must end in -<ordinal>');
    expect(() => ordinalPartitions('s-1', undefined, 16)).toThrow('needs SENTINEL_REPLICAS');
    expect(() => ordinalPartitions('s-2', 2, 16)).toThrow('not below SENTINEL_REPLICAS=2');
    expect(() => ordinalPartitions('s-0', 17, 16)).toThrow('more than the 16 partitions');
  });
  it('keeps the list and all forms', () => {
    expect(
      ownedPartitions(
        { SENTINEL_PARTITIONS: '0-2,5', SENTINEL_INSTANCE_ID: undefined, SENTINEL_REPLICAS: undefined },
        8,
      ),
    ).toEqual([0, 1, 2, 5]);
    expect(
      ownedPartitions(
        { SENTINEL_PARTITIONS: 'ordinal', SENTINEL_INSTANCE_ID: 'x-1', SENTINEL_REPLICAS: 2 },
        4,
      ),
    ).toEqual([1, 3]);
  });
});
