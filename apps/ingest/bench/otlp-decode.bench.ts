// OTLP decoding throughput, one core: spans/s decoded and turned into vitals, for protobuf and OTLP/JSON
// exports, against JSON.parse alone of the same JSON payload (the floor any JSON receiver pays). No I/O: the
// bus and HTTP are measured by ingest.bench.ts.
//
// The payload is what an instrumented agent exports: batches of BENCH_SPANS (default 512, the OTel SDK's batch
// size) spans, one in four a GenAI chat span with usage, model and captured messages, the rest HTTP/chain spans,
// serialised by @opentelemetry/otlp-transformer (the encoders the real exporters use).
import { Pricing } from '@immune/core';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { decodeTraceRequestJson } from '../src/otlp/decode-json.js';
import { decodeTraceRequestProtobuf } from '../src/otlp/decode-protobuf.js';
import { TraceAgents } from '../src/otlp/span-agent.js';
import { spansToVitals } from '../src/otlp/to-vitals.js';

const SPANS = Number(process.env.BENCH_SPANS ?? 512);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);

function payloadSpans() {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'bench-agent', 'service.version': '1.2.3' }),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  const tracer = provider.getTracer('bench', '1.0.0');
  for (let i = 0; i < SPANS; i++) {
    const genai = i % 4 === 0;
    const span = tracer.startSpan(genai ? 'chat gpt-4o-mini' : 'GET /api/items', {
      attributes: genai
        ? {
            'gen_ai.operation.name': 'chat',
            'gen_ai.provider.name': 'openai',
            'gen_ai.request.model': 'gpt-4o-mini',
            'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
            'gen_ai.usage.input_tokens': 1000 + i,
            'gen_ai.usage.output_tokens': 200 + (i % 50),
            'gen_ai.response.finish_reasons': ['stop'],
            'gen_ai.input.messages': JSON.stringify([
              { role: 'system', parts: [{ type: 'text', content: 'You are a careful billing assistant.' }] },
              { role: 'user', parts: [{ type: 'text', content: `Question number ${i} about my invoice?` }] },
            ]),
          }
        : {
            'http.request.method': 'GET',
            'url.full': `https://api.example.com/items/${i}`,
            'http.response.status_code': 200,
          },
    });
    span.end();
  }
  return memory.getFinishedSpans();
}

function measure(
  label: string,
  work: () => number,
): { label: string; spansPerSecond: number; rounds: number } {
  for (let i = 0; i < 20; i++) work(); // warm-up: let the JIT settle
  let spans = 0;
  let rounds = 0;
  const started = performance.now();
  const until = started + SECONDS * 1000;
  while (performance.now() < until) {
    spans += work();
    rounds++;
  }
  const elapsed = (performance.now() - started) / 1000;
  return { label, spansPerSecond: Math.round(spans / elapsed), rounds };
}

const spans = payloadSpans();
const protobuf = ProtobufTraceSerializer.serializeRequest(spans) as Uint8Array;
const jsonText = Buffer.from(JsonTraceSerializer.serializeRequest(spans) as Uint8Array).toString('utf8');
const pricing = new Pricing();
const traces = new TraceAgents();
let vitals = 0;

const results = [
  measure('JSON.parse only (same payload, floor)', () => {
    JSON.parse(jsonText);
    return SPANS;
  }),
  measure('OTLP/JSON decode', () => {
    decodeTraceRequestJson(jsonText);
    return SPANS;
  }),
  measure('OTLP/JSON decode + spans → vitals', () => {
    vitals = spansToVitals(decodeTraceRequestJson(jsonText), { pricing, traces }).vitals.length;
    return SPANS;
  }),
  measure('protobuf decode', () => {
    decodeTraceRequestProtobuf(protobuf);
    return SPANS;
  }),
  measure('protobuf decode + spans → vitals', () => {
    vitals = spansToVitals(decodeTraceRequestProtobuf(protobuf), { pricing, traces }).vitals.length;
    return SPANS;
  }),
];
const floor = results[0]?.spansPerSecond ?? 1;
console.log(
  JSON.stringify(
    {
      spansPerExport: SPANS,
      vitalsPerExport: vitals,
      protobufBytes: protobuf.length,
      jsonBytes: jsonText.length,
      results: results.map((r) => ({ ...r, vsJsonParse: Number((r.spansPerSecond / floor).toFixed(2)) })),
    },
    null,
    2,
  ),
);
