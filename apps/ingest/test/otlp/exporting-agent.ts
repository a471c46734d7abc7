import { type Bus, connectNatsBus } from '@immune/bus';
import { natsUrlForTests, removeTopology, uniquePrefix } from '@immune/bus/testing';
import type { Vital, VitalKind } from '@immune/core';
import { MockUpstream } from '@immune/mock-upstream';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { type AppHarness, startApp } from '../harness.js';

/**
 * What every real-instrumentation test needs: the real ingest on real NATS (a probe consumer collects what it
 * publishes), the mock LLM provider the instrumented client calls, and a tracer provider whose spans reach ingest
 * through the real OTLP/protobuf exporter, named after one agent by `service.name`.
 */
export interface ExportingAgent {
  agent: string;
  app: AppHarness;
  mock: MockUpstream;
  provider: BasicTracerProvider;
  /** This agent's published vitals of one kind, in arrival order. */
  vitals(kind: VitalKind): Vital[];
  /** Another agent's (one exporting from its own process), likewise. */
  vitalsOf(agent: string, kind: VitalKind): Vital[];
  close(): Promise<void>;
}

export async function startExportingAgent(agent: string, prefixTag: string): Promise<ExportingAgent> {
  const natsUrl = await natsUrlForTests();
  const prefix = uniquePrefix(prefixTag);
  const bus: Bus = await connectNatsBus({ url: natsUrl, prefix, name: 'otlp-instrumentation-test' });
  const app = await startApp({ bus, listen: true });
  const published: Vital[] = [];
  await bus.consumeVitals({ durable: 'probe', handler: async (d) => void published.push(d.vital) });
  const mock = await MockUpstream.start();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': agent }),
    spanProcessors: [
      new SimpleSpanProcessor(
        new OTLPTraceExporter({
          url: `${app.url}/v1/traces`,
          headers: { authorization: `Bearer ${app.key}` },
        }),
      ),
    ],
  });
  return {
    agent,
    app,
    mock,
    provider,
    vitals: (kind) => published.filter((v) => v.agent_id === agent && v.kind === kind),
    vitalsOf: (other, kind) => published.filter((v) => v.agent_id === other && v.kind === kind),
    async close() {
      await provider.shutdown();
      await mock.close();
      await app.close();
      await bus.drain();
      await removeTopology(natsUrl, prefix);
    },
  };
}
