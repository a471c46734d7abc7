import { createRequire } from 'node:module';
import { OpenAIInstrumentation } from '@arizeai/openinference-instrumentation-openai';
import type OpenAI from 'openai';
import { openAIInstrumentationContract } from './openai-instrumentation-contract.js';

// @arizeai/openinference-instrumentation-openai 4.2 (OpenInference, what Arize Phoenix reads). It exports no span
// for an HTTP error and records no token counts for a stream; messages are on the spans (llm.input_messages.*).
let instrumentation: OpenAIInstrumentation | undefined;
openAIInstrumentationContract({
  agent: 'openinference-openai-agent',
  prefixTag: 'otlpoi',
  instrument(stack) {
    instrumentation = new OpenAIInstrumentation({ tracerProvider: stack.provider });
    const openai = createRequire(import.meta.url)('openai') as { default: typeof OpenAI };
    instrumentation.manuallyInstrument(openai.default);
    return openai.default;
  },
  uninstrument: () => instrumentation?.disable(),
  failingCall: 'no span',
  streamedTokens: 'none',
  promptHash: true,
});
