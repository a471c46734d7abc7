import { STATUS_CODES } from 'node:http';
import { HttpError } from './http-error.js';

/** One field that failed request validation, named like `body.messages.0.role`. */
export interface FieldIssue {
  field: string;
  message: string;
}

export interface ErrorReply {
  statusCode: number;
  code: string;
  message: string;
  details?: unknown;
  /** False for server faults: the client gets a generic message and the real one is only logged. */
  expose: boolean;
}

interface ValidationEntry {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

interface FrameworkError {
  code?: string;
  statusCode?: number;
  message?: string;
  validation?: ValidationEntry[];
  validationContext?: string;
}

/** Maps anything a route or fastify throws to the status and body the client receives. */
export function toErrorReply(error: unknown, bodyLimitBytes: number): ErrorReply {
  if (error instanceof HttpError) {
    return {
      statusCode: error.statusCode,
      code: error.code,
      message: error.message,
      ...(error.details === undefined ? {} : { details: error.details }),
      expose: true,
    };
  }
  const framework = (typeof error === 'object' && error !== null ? error : {}) as FrameworkError;
  if (Array.isArray(framework.validation)) {
    const issues = validationIssues(framework.validation, framework.validationContext ?? 'body');
    return {
      statusCode: 400,
      code: 'VALIDATION_FAILED',
      message: `invalid request: ${issues.map((issue) => `${issue.field} ${issue.message}`).join('; ')}`,
      details: issues,
      expose: true,
    };
  }
  switch (framework.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return expose(413, 'PAYLOAD_TOO_LARGE', `request body is larger than ${bodyLimitBytes} bytes`);
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return expose(400, 'INVALID_JSON', 'request body is not valid JSON');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return expose(400, 'INVALID_JSON', 'request body is empty but content-type is application/json');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return expose(415, 'UNSUPPORTED_MEDIA_TYPE', framework.message ?? 'unsupported content-type');
    default:
      break;
  }
  const status = framework.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // fastify's own codes (FST_ERR_*) are implementation details; clients get the HTTP status name instead.
    const code =
      framework.code && !framework.code.startsWith('FST_') ? framework.code : statusCodeName(status);
    return expose(status, code, framework.message ?? statusText(status));
  }
  return { statusCode: 500, code: 'INTERNAL_ERROR', message: 'internal server error', expose: false };
}

function expose(statusCode: number, code: string, message: string): ErrorReply {
  return { statusCode, code, message, expose: true };
}

/** Works for Ajv's errors (fastify's default validator) and TypeBox's, which share Ajv's shape. */
export function validationIssues(entries: readonly ValidationEntry[], context: string): FieldIssue[] {
  const issues: FieldIssue[] = [];
  for (const entry of entries) {
    const base = (entry.instancePath ?? '').split('/').filter((part) => part !== '');
    const params = entry.params ?? {};
    const missing =
      entry.keyword === 'required'
        ? typeof params.missingProperty === 'string'
          ? [params.missingProperty]
          : Array.isArray(params.requiredProperties)
            ? params.requiredProperties.map(String)
            : []
        : [];
    if (missing.length > 0) {
      for (const name of missing)
        issues.push({ field: [context, ...base, name].join('.'), message: 'is required' });
    } else if (entry.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') {
      issues.push({
        field: [context, ...base, params.additionalProperty].join('.'),
        message: 'is not allowed',
      });
    } else {
      issues.push({ field: [context, ...base].join('.'), message: entry.message ?? 'is invalid' });
    }
  }
  return issues;
}

function statusText(status: number): string {
  return (STATUS_CODES[status] ?? 'error').toLowerCase();
}

function statusCodeName(status: number): string {
  return (STATUS_CODES[status] ?? 'ERROR').toUpperCase().replace(/[^A-Z0-9]+/g, '_');
}
