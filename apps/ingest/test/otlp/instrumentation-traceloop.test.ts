import { createRequire } from 'node:module';
import { OpenAIInstrumentation } from '@traceloop/instrumentation-openai';
import type OpenAI from 'openai';
import { openAIInstrumentationContract } from './openai-instrumentation-contract.js';

// @traceloop/instrumentation-openai 0.27 (OpenLLMetry). `manuallyInstrument` patches the module this test loaded
// (no loader hook under vitest). It exports no span for an HTTP error, and ignores a stream's usage chunk
// (`enrichTokens`, off by default, would estimate tokens with tiktoken).
const instrumentation = new OpenAIInstrumentation({ traceContent: true });
openAIInstrumentationContract({
  agent: 'traceloop-openai-agent',
  prefixTag: 'otlpt',
  instrument(stack) {
    instrumentation.setTracerProvider(stack.provider);
    const openai = createRequire(import.meta.url)('openai') as { default: typeof OpenAI };
    instrumentation.manuallyInstrument(openai.default);
    return openai.default;
  },
  uninstrument: () => instrumentation.disable(),
  failingCall: 'no span',
  streamedTokens: 'none',
  promptHash: true,
});
