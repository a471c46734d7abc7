import type { Vital } from '@immune/core';
import { describe, expect, it } from 'vitest';
import { VitalPublisher, type VitalSink } from './vital-publisher.js';

const vital = (i: number): Vital => ({
  id: `v${i}`,
  agent_id: 'a',
  ts: i,
  source: 'gateway',
  kind: 'llm',
  latency_ms: 1,
  input_tokens: 1,
  output_tokens: 1,
  total_tokens: 2,
  tool_calls: 0,
  retries: 0,
  cost: 0,
  success: true,
});

/** A sink whose availability the test switches, standing in for a bus that goes down and comes back. */
class SwitchableSink implements VitalSink {
  up = true;
  readonly received: string[] = [];
  async publishVitals(vitals: readonly Vital[]): Promise<void> {
    if (!this.up) throw new Error('bus unavailable');
    for (const v of vitals) this.received.push(v.id);
  }
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
};

describe('VitalPublisher', () => {
  it('publishes without the caller waiting', async () => {
    const sink = new SwitchableSink();
    const publisher = new VitalPublisher(sink, { capacity: 10, retryMs: 5 });
    publisher.submit(vital(1));
    await until(() => sink.received.length === 1);
  });

  it('buffers in order while the bus is down and flushes when it returns', async () => {
    const sink = new SwitchableSink();
    const errors: unknown[] = [];
    const publisher = new VitalPublisher(sink, { capacity: 100, retryMs: 5, onError: (e) => errors.push(e) });
    sink.up = false;
    for (let i = 0; i < 20; i++) publisher.submit(vital(i));
    await until(() => errors.length > 0);
    expect(publisher.stats.buffered).toBe(20);
    sink.up = true;
    await until(() => sink.received.length === 20);
    expect(sink.received).toEqual(Array.from({ length: 20 }, (_, i) => `v${i}`));
    expect(publisher.stats).toEqual({ buffered: 0, dropped: 0, published: 20 });
  });

  it('drops the oldest beyond capacity and reports every drop', async () => {
    const sink = new SwitchableSink();
    sink.up = false;
    let dropped = 0;
    const publisher = new VitalPublisher(sink, { capacity: 5, retryMs: 5, onDropped: (n) => (dropped += n) });
    for (let i = 0; i < 8; i++) publisher.submit(vital(i));
    expect(dropped).toBe(3);
    sink.up = true;
    await until(() => sink.received.length === 5);
    expect(sink.received).toEqual(['v3', 'v4', 'v5', 'v6', 'v7']);
  });

  it('flushes on close', async () => {
    const sink = new SwitchableSink();
    sink.up = false;
    const publisher = new VitalPublisher(sink, { capacity: 50, retryMs: 5 });
    for (let i = 0; i < 3; i++) publisher.submit(vital(i));
    setTimeout(() => {
      sink.up = true;
    }, 30);
    await publisher.close(1000);
    expect(sink.received).toHaveLength(3);
  });

  it('lingers so that vitals submitted together leave in one flush', async () => {
    const batches: number[] = [];
    const sink: VitalSink = {
      async publishVitals(vitals) {
        batches.push(vitals.length);
      },
    };
    const publisher = new VitalPublisher(sink, { capacity: 100, retryMs: 5, lingerMs: 20 });
    for (let i = 0; i < 10; i++) publisher.submit(vital(i));
    expect(publisher.stats.published).toBe(0);
    await until(() => publisher.stats.published === 10);
    expect(batches[0]).toBe(10);
    await publisher.close();
  });
});
