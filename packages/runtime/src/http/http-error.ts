import { type Static, Type } from 'typebox';

/**
 * An error a route throws on purpose: its status, code, message and details reach the client as they are.
 * Anything else that escapes a route becomes a generic 500 whose details stay in the log.
 */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  readonly statusCode: number;
  readonly code: string;
  readonly details: unknown;

  constructor(statusCode: number, code: string, message: string, details?: unknown) {
    super(message);
    this.statusCode = statusCode;
    this.code = code;
    this.details = details;
  }
}

/** The body of every error response, for routes that document their error replies. */
export const ErrorResponse = Type.Object({
  error: Type.Object({
    code: Type.String(),
    message: Type.String(),
    details: Type.Optional(Type.Unknown()),
  }),
});
export type ErrorResponse = Static<typeof ErrorResponse>;
