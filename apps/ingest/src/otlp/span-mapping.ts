import type { Pricing, VitalKind } from '@immune/core';
import { promptHashOf } from '@immune/core';
import { firstNumber, firstString, indexed, listOf, structuredOf } from './attributes.js';
import { type Attributes, type OtlpSpan, STATUS_ERROR } from './model.js';
import { spanSystemPrompt } from './span-prompt.js';

/*
 * Spans → vitals, as data. Classification rules are tried in order and the first that recognises a span wins;
 * each field is read from a list of attributes, current GenAI semantic conventions first, then the names real
 * emitters still send (OpenInference, Traceloop/OpenLLMetry, the Vercel AI SDK). docs/ingest.md prints these
 * tables; span-mapping.test.ts has a test per row.
 */

/** What a span is: a vital of some kind, or `ignore` (HTTP, chain, retrieval… spans are not vitals). */
export type SpanClass = VitalKind | 'ignore';

export interface ClassificationRule {
  /** The dialect and the attribute/name the rule reads, as printed in the docs. */
  rule: string;
  classify(span: OtlpSpan): SpanClass | undefined;
}

function byAttribute(
  key: string,
  classes: Record<string, SpanClass>,
): (span: OtlpSpan) => SpanClass | undefined {
  return (span) => {
    const value = span.attributes.get(key);
    return typeof value === 'string' ? classes[value.toLowerCase()] : undefined;
  };
}

export const CLASSIFICATION_RULES: readonly ClassificationRule[] = [
  {
    rule: 'gen_ai.operation.name',
    classify: byAttribute('gen_ai.operation.name', {
      chat: 'llm',
      text_completion: 'llm',
      generate_content: 'llm',
      embeddings: 'llm',
      execute_tool: 'tool',
      // Agent and workflow spans carry their children's summed usage: a task, never an LLM call.
      invoke_agent: 'task',
      invoke_workflow: 'task',
      create_agent: 'ignore',
    }),
  },
  {
    rule: 'openinference.span.kind',
    classify: byAttribute('openinference.span.kind', {
      llm: 'llm',
      embedding: 'llm',
      tool: 'tool',
      agent: 'task',
      chain: 'ignore',
      retriever: 'ignore',
      reranker: 'ignore',
      guardrail: 'ignore',
      evaluator: 'ignore',
    }),
  },
  {
    rule: 'traceloop.span.kind',
    classify: byAttribute('traceloop.span.kind', {
      workflow: 'task',
      agent: 'task',
      task: 'ignore',
      tool: 'tool',
    }),
  },
  {
    rule: 'llm.request.type',
    classify: byAttribute('llm.request.type', {
      chat: 'llm',
      completion: 'llm',
      embedding: 'llm',
      rerank: 'ignore',
    }),
  },
  {
    rule: 'mcp.method.name = tools/call',
    classify: (span) => (span.attributes.get('mcp.method.name') === 'tools/call' ? 'tool' : undefined),
  },
  {
    rule: 'span name ai.*.doGenerate / ai.*.doStream (Vercel AI SDK)',
    classify: (span) => (/^ai\.\w+\.(doGenerate|doStream|doEmbed)$/.test(span.name) ? 'llm' : undefined),
  },
  {
    rule: 'span name ai.toolCall (Vercel AI SDK)',
    classify: (span) => (span.name === 'ai.toolCall' ? 'tool' : undefined),
  },
  {
    rule: 'span name ai.generateText / ai.streamText / ai.generateObject / ai.streamObject (Vercel AI SDK)',
    classify: (span) => (/^ai\.(generate|stream)(Text|Object)$/.test(span.name) ? 'task' : undefined),
  },
];

/** Where each field is read, in order; the first attribute present wins. */
export const FIELD_SOURCES = {
  model: [
    'gen_ai.response.model',
    'gen_ai.request.model',
    'llm.response.model_name',
    'llm.model_name',
    'ai.response.model',
    'ai.model.id',
  ],
  provider: ['gen_ai.provider.name', 'gen_ai.system', 'llm.provider', 'llm.system', 'ai.model.provider'],
  inputTokens: [
    'gen_ai.usage.input_tokens',
    'gen_ai.usage.prompt_tokens',
    'llm.token_count.prompt',
    'llm.usage.prompt_tokens',
    'ai.usage.inputTokens',
    'ai.usage.promptTokens',
  ],
  outputTokens: [
    'gen_ai.usage.output_tokens',
    'gen_ai.usage.completion_tokens',
    'llm.token_count.completion',
    'llm.usage.completion_tokens',
    'ai.usage.outputTokens',
    'ai.usage.completionTokens',
  ],
  totalTokens: [
    'gen_ai.usage.total_tokens',
    'llm.usage.total_tokens',
    'llm.token_count.total',
    'ai.usage.totalTokens',
  ],
  /** USD the emitter computed itself; otherwise the gateway's pricing table. */
  cost: ['gen_ai.usage.cost', 'llm.cost.total'],
  toolName: ['gen_ai.tool.name', 'tool.name', 'ai.toolCall.name', 'mcp.tool.name'],
  errorType: ['error.type'],
} as const;

/** Time to first token: attribute and the factor to milliseconds. */
export const TTFT_SOURCES: ReadonlyArray<readonly [string, number]> = [
  ['gen_ai.response.time_to_first_chunk', 1000],
  ['ai.response.msToFirstChunk', 1],
  ['ai.stream.msToFirstChunk', 1],
];

/** Tool calls the model asked for, per dialect; the first that finds any wins. */
export const TOOL_CALL_COUNTERS: ReadonlyArray<{ rule: string; count(attributes: Attributes): number }> = [
  {
    rule: 'gen_ai.output.messages parts of type tool_call',
    count: (attributes) =>
      listOf(attributes.get('gen_ai.output.messages'))
        .flatMap((message) => (isRecord(message) && Array.isArray(message.parts) ? message.parts : []))
        .filter((part) => isRecord(part) && part.type === 'tool_call').length,
  },
  {
    rule: 'gen_ai.completion.<i>.tool_calls.<j>.name (Traceloop)',
    count: (attributes) => countKeys(attributes, /^gen_ai\.completion\.\d+\.tool_calls\.\d+\.name$/),
  },
  {
    rule: 'llm.output_messages.<i>.message.tool_calls.<j>.tool_call.function.name (OpenInference)',
    count: (attributes) =>
      countKeys(
        attributes,
        /^llm\.output_messages\.\d+\.message\.tool_calls\.\d+\.tool_call\.function\.name$/,
      ),
  },
  {
    rule: 'ai.response.toolCalls (Vercel AI SDK)',
    count: (attributes) => {
      const calls = structuredOf(attributes.get('ai.response.toolCalls'));
      return Array.isArray(calls) ? calls.length : 0;
    },
  },
  {
    rule: 'finish reason tool_calls / tool_use / tool-calls (at least one call)',
    count: (attributes) => {
      const reasons = [
        ...listOf(attributes.get('gen_ai.response.finish_reasons')),
        ...listOf(attributes.get('ai.response.finishReason')),
        ...indexed(attributes, 'gen_ai.completion.').map((row) => row.finish_reason),
      ];
      return reasons.some((r) => r === 'tool_calls' || r === 'tool_use' || r === 'tool-calls') ? 1 : 0;
    },
  },
];

/** Provider names as the gateway writes them: lower case, the Vercel AI SDK's `.chat`-style suffix dropped. */
export function normaliseProvider(name: string): string {
  const lower = name.trim().toLowerCase();
  return lower.replace(/\.(chat|responses|completion|completions|messages|embedding|embeddings)$/, '');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function countKeys(attributes: Attributes, pattern: RegExp): number {
  let count = 0;
  for (const key of attributes.keys()) if (pattern.test(key)) count++;
  return count;
}

export function classifySpan(span: OtlpSpan): SpanClass | undefined {
  for (const { classify } of CLASSIFICATION_RULES) {
    const found = classify(span);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Everything a vital says about a span, before the agent is known. */
export interface SpanReading {
  kind: VitalKind;
  ts: number;
  latencyMs: number;
  ttftMs?: number;
  model?: string;
  provider?: string;
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  toolCalls: number;
  cost: number;
  success: boolean;
  errorType?: string;
  promptHash?: string;
  toolName?: string;
}

const NS_PER_MS = 1_000_000n;
const MAX_TEXT = 128;

function count(value: number | undefined): number {
  return value === undefined || value < 0 ? 0 : Math.round(value);
}

/** Failure: an error status, an `error.type`, or an `exception` event (its `exception.type` names it). */
function failureOf(span: OtlpSpan): { success: boolean; errorType?: string } {
  const errorType = firstString(span.attributes, FIELD_SOURCES.errorType);
  const exception = span.events.find((event) => event.name === 'exception');
  if (span.status.code !== STATUS_ERROR && errorType === undefined && exception === undefined)
    return { success: true };
  const named =
    errorType ??
    (exception === undefined ? undefined : firstString(exception.attributes, ['exception.type'])) ??
    'error';
  return { success: false, errorType: named.slice(0, MAX_TEXT) };
}

/**
 * The vital fields of one span, or `undefined` for a span that is no vital (not GenAI, or a chain/retrieval
 * step). `now` stands in for a missing end time.
 */
export function readSpan(span: OtlpSpan, pricing: Pricing, now: number): SpanReading | undefined {
  const kind = classifySpan(span);
  if (kind === undefined || kind === 'ignore') return undefined;
  const { attributes } = span;
  const end = span.endTimeUnixNano;
  const ts = end > 0n ? Number(end / NS_PER_MS) : now;
  const latencyMs =
    end > span.startTimeUnixNano && span.startTimeUnixNano > 0n
      ? Number(end - span.startTimeUnixNano) / 1e6
      : 0;
  const failure = failureOf(span);
  const base = { kind, ts, latencyMs, ...failure };

  if (kind === 'tool') {
    const toolName = firstString(attributes, FIELD_SOURCES.toolName);
    return {
      ...base,
      inputTokens: 0,
      outputTokens: 0,
      totalTokens: 0,
      toolCalls: 1,
      cost: 0,
      ...(toolName === undefined ? {} : { toolName: toolName.slice(0, 256) }),
    };
  }

  const model = firstString(attributes, FIELD_SOURCES.model);
  const providerName = firstString(attributes, FIELD_SOURCES.provider);
  if (kind === 'task') {
    // The agent's or workflow's duration and outcome; its tokens are its LLM calls', counted in their vitals.
    return {
      ...base,
      inputTokens: 0,
      outputTokens: 0,
      totalTokens: 0,
      toolCalls: 0,
      cost: 0,
      ...(model === undefined ? {} : { model: model.slice(0, 256) }),
    };
  }

  const inputTokens = count(firstNumber(attributes, FIELD_SOURCES.inputTokens));
  const outputTokens = count(firstNumber(attributes, FIELD_SOURCES.outputTokens));
  const totalTokens = count(firstNumber(attributes, FIELD_SOURCES.totalTokens) ?? inputTokens + outputTokens);
  let toolCalls = 0;
  for (const counter of TOOL_CALL_COUNTERS) {
    toolCalls = counter.count(attributes);
    if (toolCalls > 0) break;
  }
  let ttftMs: number | undefined;
  for (const [key, factor] of TTFT_SOURCES) {
    const value = firstNumber(attributes, [key]);
    if (value !== undefined && value >= 0) {
      ttftMs = value * factor;
      break;
    }
  }
  const statedCost = firstNumber(attributes, FIELD_SOURCES.cost);
  const cost =
    statedCost !== undefined && statedCost >= 0
      ? statedCost
      : pricing.costOf(model, inputTokens, outputTokens);
  const systemPrompt = spanSystemPrompt(attributes);
  return {
    ...base,
    inputTokens,
    outputTokens,
    totalTokens,
    toolCalls,
    cost,
    ...(ttftMs === undefined ? {} : { ttftMs }),
    ...(model === undefined ? {} : { model: model.slice(0, 256) }),
    ...(providerName === undefined ? {} : { provider: normaliseProvider(providerName).slice(0, MAX_TEXT) }),
    ...(systemPrompt === undefined ? {} : { promptHash: promptHashOf(systemPrompt) }),
  };
}
