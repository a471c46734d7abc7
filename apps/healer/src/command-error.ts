/** A refused operator request, with a code the caller can act on (the bus passes `code` through). */
export class CommandError extends Error {
  constructor(
    readonly code: 'invalid_request' | 'not_found',
    message: string,
  ) {
    super(message);
  }
}
