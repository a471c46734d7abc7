import { randomUUID } from 'node:crypto';
import { compileChecker, type Vital, VitalKind } from '@immune/core';
import type { FieldIssue } from '@immune/runtime';
import { MAX_VITAL_TS, unstorableReason } from '@immune/store';
import Type, { type Static } from 'typebox';

/** PostgreSQL `integer`: counts beyond it could never be stored, so they are refused here, not at the recorder. */
const INT4_MAX = 2_147_483_647;
const Count = (description: string) => Type.Integer({ minimum: 0, maximum: INT4_MAX, description });
const Amount = (description: string) => Type.Number({ minimum: 0, maximum: 1e15, description });
const Text = (maxLength: number) => Type.String({ maxLength });

/**
 * One vital as an agent reports it: the bus's `Vital` with defaults for what only the server can know or what
 * an agent usually leaves out. `source` is always `ingest`: an agent cannot claim to be the gateway.
 */
export const ReportedVital = Type.Object(
  {
    id: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 128,
        description: 'Unique id; send one so a retried request is not counted twice. Default: a UUID',
      }),
    ),
    agent_id: Type.String({ minLength: 1, maxLength: 256 }),
    ts: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: MAX_VITAL_TS,
        description: 'Epoch ms when the call or task finished. Default: when ingest received it',
      }),
    ),
    source: Type.Optional(Type.Literal('ingest')),
    kind: VitalKind,
    model: Type.Optional(Text(256)),
    provider: Type.Optional(Text(128)),
    latency_ms: Amount('Duration of the call or task, ms'),
    ttft_ms: Type.Optional(Amount('Time to first token, streams only')),
    input_tokens: Count('Prompt tokens'),
    output_tokens: Count('Completion tokens'),
    total_tokens: Type.Optional(Count('Default: input_tokens + output_tokens')),
    tool_calls: Type.Optional(Count('Default 0')),
    retries: Type.Optional(Count('Default 0')),
    cost: Type.Optional(Amount('USD. Default 0')),
    success: Type.Boolean(),
    error_type: Type.Optional(Text(128)),
    prompt_hash: Type.Optional(Text(128)),
    request_hash: Type.Optional(Text(128)),
    tool_name: Type.Optional(Text(256)),
    mcp_server: Type.Optional(Text(256)),
    trace_id: Type.Optional(Text(64)),
  },
  { additionalProperties: false },
);
export type ReportedVital = Static<typeof ReportedVital>;

const checker = compileChecker(ReportedVital);

export interface IngestLimits {
  maxBatch: number;
  maxFutureMs: number;
}

export type ParsedBody = { ok: true; vitals: Vital[] } | { ok: false; code: string; issues: FieldIssue[] };

/** Listing thousands of issues of one bad batch helps nobody and costs a large response. */
const MAX_ISSUES = 20;

/**
 * Turns a request body (one vital, an array of them, or `{ "vitals": [...] }`) into complete vitals, or the
 * list of problems, each naming its field (`body.vitals.3.input_tokens`). A batch with any problem is refused
 * whole: nothing of it is published.
 */
export function parseIngestBody(body: unknown, limits: IngestLimits, now: number = Date.now()): ParsedBody {
  let items: unknown[];
  let base: string;
  if (Array.isArray(body)) {
    items = body;
    base = 'body';
  } else if (isRecord(body) && 'vitals' in body) {
    if (!Array.isArray(body.vitals)) {
      return invalid('VALIDATION_FAILED', 'body.vitals', 'must be an array of vitals');
    }
    const extra = Object.keys(body).filter((key) => key !== 'vitals');
    if (extra.length > 0) return invalid('VALIDATION_FAILED', `body.${extra[0]}`, 'is not a known field');
    items = body.vitals;
    base = 'body.vitals';
  } else if (isRecord(body)) {
    items = [body];
    base = '';
  } else {
    return invalid('VALIDATION_FAILED', 'body', 'must be a vital, an array of vitals or { "vitals": [...] }');
  }
  if (items.length === 0) return invalid('VALIDATION_FAILED', base || 'body', 'holds no vitals');
  if (items.length > limits.maxBatch) {
    return invalid(
      'TOO_MANY_VITALS',
      base || 'body',
      `holds ${items.length} vitals; at most ${limits.maxBatch} are accepted per request`,
    );
  }

  const issues: FieldIssue[] = [];
  const vitals: Vital[] = [];
  const latest = now + limits.maxFutureMs;
  items.forEach((item, index) => {
    if (issues.length >= MAX_ISSUES) return;
    const at = base === '' ? 'body' : `${base}.${index}`;
    if (!checker.check(item)) {
      for (const issue of checker.issues(item)) {
        issues.push({ field: fieldName(at, issue.path), message: issue.message });
      }
      return;
    }
    if (item.ts !== undefined && item.ts > latest) {
      issues.push({
        field: `${at}.ts`,
        message: `is ${item.ts - now} ms in the future (more than ${limits.maxFutureMs} ms ahead of the server's clock)`,
      });
      return;
    }
    const vital = complete(item, now);
    // The schema already bounds every field the database has limits on; this is the last line of defence, so
    // the recorder never meets a vital it would have to drop.
    const problem = unstorableReason(vital);
    if (problem !== undefined) {
      issues.push({ field: at, message: problem });
      return;
    }
    vitals.push(vital);
  });
  if (issues.length > 0) return { ok: false, code: 'VALIDATION_FAILED', issues: issues.slice(0, MAX_ISSUES) };
  return { ok: true, vitals };
}

function complete(reported: ReportedVital, now: number): Vital {
  const vital: Vital = {
    ...reported,
    id: reported.id ?? randomUUID(),
    ts: reported.ts ?? now,
    source: 'ingest',
    total_tokens: reported.total_tokens ?? reported.input_tokens + reported.output_tokens,
    tool_calls: reported.tool_calls ?? 0,
    retries: reported.retries ?? 0,
    cost: reported.cost ?? 0,
  };
  return vital;
}

function fieldName(at: string, pointer: string): string {
  const parts = pointer.split('/').filter((part) => part !== '');
  return [at, ...parts].join('.');
}

function invalid(code: string, field: string, message: string): ParsedBody {
  return { ok: false, code, issues: [{ field, message }] };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
