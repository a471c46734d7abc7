/** Epoch milliseconds with sub-millisecond precision: latencies from it are exact, and it means the same on every replica. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}
