import type { Meter } from '@opentelemetry/api';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { type Resource, resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { LocalHistograms } from './local-histograms.js';

/** What `GET /metrics` needs: the Prometheus text of everything recorded so far. */
export interface MetricsSource {
  scrape(): Promise<string>;
}

/** A meter provider whose only reader is an in-process Prometheus exporter. */
export interface PrometheusMetrics extends MetricsSource {
  readonly meterProvider: MeterProvider;
  meter(name?: string, version?: string): Meter;
  shutdown(): Promise<void>;
}

export interface PrometheusMetricsOptions {
  serviceName: string;
  resource?: Resource;
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * Metrics that are served by the service's own HTTP server (`GET /metrics`) instead of the exporter's separate
 * port, so every service exposes one port. Nothing here is registered globally: tests create as many as they
 * like, and `startTelemetry` decides what becomes the process-wide provider.
 */
export function createPrometheusMetrics(options: PrometheusMetricsOptions): PrometheusMetrics {
  // Histograms are aggregated locally and handed to the exporter at collection (see local-histograms.ts).
  const histograms = new LocalHistograms();
  const exporter = new PrometheusExporter({ preventServerStart: true, metricProducers: [histograms] });
  const resource = options.resource ?? resourceFromAttributes({ 'service.name': options.serviceName });
  const meterProvider = new MeterProvider({ resource, readers: [exporter] });
  const serializer = new PrometheusSerializer();
  let stopped = false;
  return {
    meterProvider,
    meter: (name = options.serviceName, version?: string) =>
      histograms.meter(meterProvider.getMeter(name, version), name, version),
    async scrape() {
      if (stopped) return '';
      const { resourceMetrics } = await exporter.collect();
      return serializer.serialize(resourceMetrics);
    },
    async shutdown() {
      if (stopped) return;
      stopped = true;
      await meterProvider.shutdown();
    },
  };
}
