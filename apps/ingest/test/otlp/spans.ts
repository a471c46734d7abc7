import { SpanStatusCode } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';

/** System prompt of the fixture chat span; its hash must equal the gateway's for the same request. */
export const SYSTEM_PROMPT = 'You are a careful billing assistant.';

/**
 * Real SDK spans, as an instrumented agent makes them: a GenAI chat span, a failed chat span, a tool span and
 * an HTTP span (ignored), for the given service.
 */
export function fixtureSpans(serviceName: string): ReadableSpan[] {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName }),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  const tracer = provider.getTracer('fixture', '1.0.0');
  const start = Date.now() - 1_000;
  const chat = tracer.startSpan('chat gpt-4o-mini', {
    startTime: start,
    attributes: {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
      'gen_ai.usage.input_tokens': 120,
      'gen_ai.usage.output_tokens': 30,
      'gen_ai.response.finish_reasons': ['tool_calls'],
      'gen_ai.input.messages': JSON.stringify([
        { role: 'system', parts: [{ type: 'text', content: SYSTEM_PROMPT }] },
        { role: 'user', parts: [{ type: 'text', content: 'What do I owe?' }] },
      ]),
    },
  });
  chat.end(start + 250);
  const failed = tracer.startSpan('chat gpt-4o-mini', {
    startTime: start,
    attributes: {
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'gpt-4o-mini',
      'error.type': '429',
    },
  });
  failed.setStatus({ code: SpanStatusCode.ERROR, message: 'rate limited' });
  failed.end(start + 40);
  const tool = tracer.startSpan('execute_tool lookup_invoice', {
    startTime: start,
    attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'lookup_invoice' },
  });
  tool.end(start + 12);
  const http = tracer.startSpan('POST', { startTime: start, attributes: { 'http.request.method': 'POST' } });
  http.end(start + 200);
  return memory.getFinishedSpans();
}
