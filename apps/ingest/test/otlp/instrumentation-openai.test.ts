import { createRequire } from 'node:module';
import { metrics } from '@opentelemetry/api';
import { OpenAIInstrumentation } from '@opentelemetry/instrumentation-openai';
import type OpenAI from 'openai';
import { openAIInstrumentationContract } from './openai-instrumentation-contract.js';

// @opentelemetry/instrumentation-openai 0.21 (the last on the repo's 0.223 line that runs on Node 20). The client
// is loaded with `require` after the instrumentation is enabled: that is how it hooks a module without an ESM
// loader hook. Message content goes to log events, never to spans: no prompt hash.
const instrumentation = new OpenAIInstrumentation();
openAIInstrumentationContract({
  agent: 'otel-contrib-openai-agent',
  prefixTag: 'otlpi',
  instrument(stack) {
    instrumentation.setTracerProvider(stack.provider);
    // As registerInstrumentations does: the instrumentation records its duration histogram even on errors.
    instrumentation.setMeterProvider(metrics.getMeterProvider());
    instrumentation.enable();
    return (createRequire(import.meta.url)('openai') as { default: typeof OpenAI }).default;
  },
  uninstrument: () => instrumentation.disable(),
  failingCall: { errorType: 'RateLimitError' },
  streamedTokens: 'usage chunk',
  promptHash: false,
});
