import type { Socket } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';

/** The HTTP/1.1 parser's refusals as the client sees them: status, code and what to fix. */
export interface ClientErrorReply {
  statusCode: number;
  code: string;
  message: string;
}

interface ParserError {
  code?: string;
  reason?: string;
}

/**
 * Maps a Node `clientError` (raised before any route runs: the request could not even be parsed, or did not
 * arrive in time) to the reply. Without this, Node and fastify answer these in a shape of their own, or not at all.
 */
export function clientErrorReply(
  error: unknown,
  limits: { maxHeaderBytes: number; headersTimeoutMs: number; requestTimeoutMs: number },
): ClientErrorReply {
  const parser = (typeof error === 'object' && error !== null ? error : {}) as ParserError;
  switch (parser.code) {
    case 'HPE_HEADER_OVERFLOW':
      return {
        statusCode: 431,
        code: 'HEADERS_TOO_LARGE',
        message: `request line and headers are larger than ${limits.maxHeaderBytes} bytes`,
      };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        statusCode: 408,
        code: 'REQUEST_TIMEOUT',
        message: `request not received in time: headers within ${limits.headersTimeoutMs} ms, the whole request within ${limits.requestTimeoutMs} ms`,
      };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { statusCode: 413, code: 'PAYLOAD_TOO_LARGE', message: 'chunk extensions are too large' };
    default: {
      const reason = parser.reason ?? 'unparseable request';
      const name = parser.code ? ` (${parser.code})` : '';
      return {
        statusCode: 400,
        code: 'MALFORMED_HTTP',
        message: `malformed HTTP/1.1 request: ${reason}${name}`,
      };
    }
  }
}

/**
 * fastify's `clientErrorHandler`: writes the JSON error `{ error: { code, message } }` every other refusal uses,
 * then closes the connection (the parser cannot resynchronise on a broken stream). Nothing is written when the
 * client is gone or a response on this socket has already begun, so a pipelined response is never corrupted.
 * Logged at debug: these are the client's faults, and abuse must not flood the log.
 */
export function createClientErrorHandler(
  logger: FastifyBaseLogger,
  limits: { maxHeaderBytes: number; headersTimeoutMs: number; requestTimeoutMs: number },
  onRefused: (code: string) => void,
): (error: Error, socket: Socket) => void {
  return (error, socket) => {
    const code = (error as ParserError).code;
    if (code === 'ECONNRESET' || code === 'EPIPE' || socket.destroyed) {
      socket.destroy();
      return;
    }
    const reply = clientErrorReply(error, limits);
    const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    logger.debug({ code: reply.code, parserCode: code, statusCode: reply.statusCode }, 'client error');
    onRefused(reply.code);
    if (socket.writable && !inFlight?.headersSent) {
      const body = JSON.stringify({ error: { code: reply.code, message: reply.message } });
      socket.end(
        `HTTP/1.1 ${reply.statusCode} ${statusText(reply.statusCode)}\r\n` +
          'content-type: application/json; charset=utf-8\r\n' +
          `content-length: ${Buffer.byteLength(body)}\r\n` +
          'connection: close\r\n\r\n' +
          body,
      );
      // end() flushes the reply; a client that never reads must not keep the socket forever.
      setTimeout(() => socket.destroy(), 5000).unref();
    } else {
      socket.destroy();
    }
  };
}

function statusText(statusCode: number): string {
  switch (statusCode) {
    case 408:
      return 'Request Timeout';
    case 413:
      return 'Payload Too Large';
    case 431:
      return 'Request Header Fields Too Large';
    default:
      return 'Bad Request';
  }
}
