import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { type Bus, BusClosedError, BusUnavailableError } from '@immune/bus';
import { identifyAgent, type Pricing } from '@immune/core';
import { HttpError } from '@immune/runtime';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { decodeTraceRequestJson } from './decode-json.js';
import { decodeTraceRequestProtobuf } from './decode-protobuf.js';
import { OtlpDecodeError, type OtlpTraceRequest } from './model.js';
import { CONTENT_TYPES, exportResponse, type OtlpEncoding, statusBody } from './response.js';
import { TraceAgents } from './span-agent.js';
import { spansToVitals } from './to-vitals.js';

const gunzipAsync = promisify(gunzip);

export interface OtlpRouteOptions {
  bus: Bus;
  pricing: Pricing;
  /** Largest export accepted, in bytes after decompression (and before it). */
  maxBytes: number;
  /** New agents named by spans: registered and announced as the ingest API does. */
  onAgents(sightings: Map<string, number>, request: FastifyRequest): Promise<void>;
  onAccepted?(count: number): void;
  onRejected?(reason: string): void;
}

declare module 'fastify' {
  interface FastifyRequest {
    otlpEncoding?: OtlpEncoding;
  }
}

function encodingOf(contentType: string | undefined): OtlpEncoding | undefined {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  if (type === 'application/x-protobuf' || type === 'application/protobuf') return 'protobuf';
  if (type === 'application/json') return 'json';
  return undefined;
}

/**
 * `POST /v1/traces`, the OTLP/HTTP trace receiver. Registered inside the ingest API so its API-key check
 * applies; in a context of its own so bodies arrive as raw bytes and every failure is answered with a
 * `google.rpc.Status` in the request's encoding (exporters read it; they retry only 429/502/503/504).
 */
export async function otlpTraceRoutes(app: FastifyInstance, options: OtlpRouteOptions): Promise<void> {
  const { bus, pricing, maxBytes } = options;
  const traces = new TraceAgents();

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: maxBytes }, (_request, body, done) => {
    done(null, body);
  });

  app.setErrorHandler(async (error, request, reply) => {
    const encoding = request.otlpEncoding ?? encodingOf(request.headers['content-type']) ?? 'json';
    const status = httpStatusOf(error);
    const message =
      status === 413
        ? `the export is larger than ${maxBytes} bytes (after decompression); send smaller batches`
        : status >= 500 && !(error instanceof HttpError)
          ? 'internal error'
          : (error as Error).message;
    if (status >= 500 && !(error instanceof HttpError))
      request.log.error({ err: error }, 'otlp: export failed');
    if (status === 415 || status === 413 || status === 400)
      options.onRejected?.(status === 400 ? 'invalid' : String(status));
    return reply
      .code(status)
      .type(CONTENT_TYPES[encoding])
      .send(statusBody(encoding, status, message));
  });

  app.post('/v1/traces', async (request, reply) => {
    const encoding = encodingOf(request.headers['content-type']);
    if (encoding === undefined) {
      throw new HttpError(
        415,
        'UNSUPPORTED_MEDIA_TYPE',
        'OTLP/HTTP takes application/x-protobuf or application/json',
      );
    }
    request.otlpEncoding = encoding;
    const body = await bodyBytes(request, maxBytes);
    let exported: OtlpTraceRequest;
    try {
      exported =
        encoding === 'protobuf'
          ? decodeTraceRequestProtobuf(body)
          : decodeTraceRequestJson(body.toString('utf8'));
    } catch (error) {
      if (error instanceof OtlpDecodeError)
        throw new HttpError(400, 'INVALID_OTLP', `not an ExportTraceServiceRequest: ${error.message}`);
      throw error;
    }

    let headerAgent: string | undefined;
    if (request.headers['x-immune-agent'] !== undefined) {
      const identity = identifyAgent(request.headers, '', { order: ['header'], header: 'x-immune-agent' });
      if ('error' in identity) throw new HttpError(400, 'INVALID_AGENT', identity.error);
      headerAgent = identity.agentId;
    }

    const result = spansToVitals(exported, {
      pricing,
      traces,
      ...(headerAgent === undefined ? {} : { headerAgent }),
    });
    if (result.vitals.length > 0) {
      const sightings = new Map<string, number>();
      for (const vital of result.vitals)
        sightings.set(vital.agent_id, Math.max(vital.ts, sightings.get(vital.agent_id) ?? 0));
      await options.onAgents(sightings, request);
      try {
        await bus.publishVitals(result.vitals);
      } catch (cause) {
        if (cause instanceof BusUnavailableError || cause instanceof BusClosedError) {
          options.onRejected?.('bus_unavailable');
          reply.header('retry-after', '1');
          // The exporter retries the same export; the vital ids (trace + span id) make the copy a duplicate.
          throw new HttpError(503, 'BUS_UNAVAILABLE', 'the vitals could not be queued; retry the export');
        }
        throw cause;
      }
      options.onAccepted?.(result.vitals.length);
    }
    const partial =
      result.rejected > 0
        ? { rejectedSpans: result.rejected, errorMessage: result.reasons.join('; ') }
        : undefined;
    return sendOk(reply, encoding, partial);
  });
}

function sendOk(
  reply: FastifyReply,
  encoding: OtlpEncoding,
  partial: { rejectedSpans: number; errorMessage: string } | undefined,
): FastifyReply {
  return reply.code(200).type(CONTENT_TYPES[encoding]).send(exportResponse(encoding, partial));
}

async function bodyBytes(request: FastifyRequest, maxBytes: number): Promise<Buffer> {
  const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
  const contentEncoding = String(request.headers['content-encoding'] ?? 'identity')
    .toLowerCase()
    .trim();
  if (contentEncoding === 'identity' || contentEncoding === '') return raw;
  if (contentEncoding !== 'gzip')
    throw new HttpError(
      415,
      'UNSUPPORTED_ENCODING',
      `Content-Encoding ${contentEncoding} is not supported (gzip is)`,
    );
  try {
    // The limit applies after decompression: a small gzip bomb must not take the memory.
    return await gunzipAsync(raw, { maxOutputLength: maxBytes });
  } catch (error) {
    if (error instanceof RangeError || (error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
      throw new HttpError(413, 'PAYLOAD_TOO_LARGE', 'too large after decompression');
    throw new HttpError(400, 'INVALID_GZIP', 'the body is not valid gzip');
  }
}

function httpStatusOf(error: unknown): number {
  if (error instanceof HttpError) return error.statusCode;
  const statusCode = (error as { statusCode?: unknown }).statusCode;
  // fastify's own errors (body too large, bad content length…) carry their status.
  return typeof statusCode === 'number' && statusCode >= 400 && statusCode < 600 ? statusCode : 500;
}
