import type { Attributes } from '@opentelemetry/api';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { createPrometheusMetrics } from './prometheus-metrics.js';

/** The SDK's own histogram, as the reference for the text a scrape must give. */
function sdkReference() {
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': 'svc' }),
    readers: [exporter],
  });
  return {
    meter: provider.getMeter('svc'),
    async scrape() {
      const { resourceMetrics } = await exporter.collect();
      return new PrometheusSerializer().serialize(resourceMetrics);
    },
  };
}

/** The histogram lines only: the resource's target_info differs (default resource attributes). */
const histogramLines = (text: string) =>
  text
    .split('\n')
    .filter((line) => line.includes('latency'))
    .join('\n');

describe('local histograms', () => {
  it('export exactly what the SDK histogram exports for the same records', async () => {
    const ours = createPrometheusMetrics({ serviceName: 'svc' });
    const reference = sdkReference();
    const options = {
      description: 'latency',
      unit: 's',
      advice: { explicitBucketBoundaries: [0.01, 0.1, 1] },
    };
    const mine = ours.meter().createHistogram('latency', options);
    const theirs = reference.meter.createHistogram('latency', options);
    const kept: Attributes = { route: '/a', status: '200' };
    // Values on the boundaries (inclusive upper bounds), above the last, negative (dropped), with the same
    // attributes as a kept object, as fresh objects in another key order, and with none.
    const records: Array<[number, Attributes | undefined]> = [
      [0.01, kept],
      [0.05, kept],
      [0.1, { status: '200', route: '/a' }],
      [5, kept],
      [-1, kept],
      [0.2, { route: '/b', status: '500' }],
      [0, undefined],
    ];
    for (const [value, attributes] of records) {
      mine.record(value, attributes);
      theirs.record(value, attributes);
    }
    const text = histogramLines(await ours.scrape());
    expect(text).toContain('latency_bucket');
    expect(text).toBe(histogramLines(await reference.scrape()));
    await ours.shutdown();
  });

  it('is one instrument per name and meter, and exports nothing before a record', async () => {
    const metrics = createPrometheusMetrics({ serviceName: 'svc' });
    const first = metrics.meter().createHistogram('latency', { advice: { explicitBucketBoundaries: [1] } });
    expect(histogramLines(await metrics.scrape())).toBe('');
    first.record(0.5);
    metrics.meter().createHistogram('latency').record(2);
    expect(histogramLines(await metrics.scrape())).toMatch(/latency_count\{[^}]*\} 2/);
    await metrics.shutdown();
  });
});
