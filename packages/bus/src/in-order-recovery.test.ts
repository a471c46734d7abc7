import { describe, expect, it } from 'vitest';
import { InOrderRecovery } from './in-order-recovery.js';

describe('InOrderRecovery', () => {
  it('holds messages newer than the take-over until every pending one is back, then releases them in order', async () => {
    const released: number[][] = [];
    const recovery = new InOrderRecovery<number>(
      { deliveredSeq: 10, ackPending: 2 },
      () => undefined,
      60_000,
    );
    recovery.onRelease((held) => released.push([...held]));
    expect(recovery.hold(11, 11)).toBe(true);
    expect(recovery.hold(7, 7)).toBe(false);
    expect(recovery.hold(12, 12)).toBe(true);
    expect(recovery.hold(9, 9)).toBe(false);
    await Promise.resolve();
    expect(released).toEqual([[11, 12]]);
    expect(recovery.recovering).toBe(false);
    expect(recovery.hold(13, 13)).toBe(false);
  });

  it('closes when the ack floor reaches the take-over point (the previous owner settled them)', () => {
    const released: number[][] = [];
    const recovery = new InOrderRecovery<number>(
      { deliveredSeq: 10, ackPending: 5 },
      () => undefined,
      60_000,
    );
    recovery.onRelease((held) => released.push([...held]));
    recovery.hold(11, 11);
    recovery.floorReached(9);
    expect(recovery.recovering).toBe(true);
    recovery.floorReached(10);
    expect(released).toEqual([[11]]);
    recovery.floorReached(12);
    expect(released).toHaveLength(1);
  });

  it('does nothing when nothing was pending', () => {
    const recovery = new InOrderRecovery<number>(
      { deliveredSeq: 10, ackPending: 0 },
      () => undefined,
      60_000,
    );
    expect(recovery.recovering).toBe(false);
    expect(recovery.hold(11, 11)).toBe(false);
  });
});
