/** Base class: every failure the bus reports is one of these, so callers can branch on `instanceof`. */
export class BusError extends Error {
  override readonly name: string = 'BusError';
}

/** The broker cannot be reached right now; the caller may buffer and retry. */
export class BusUnavailableError extends BusError {
  override readonly name = 'BusUnavailableError';
}

/** The bus was drained or closed by this process. */
export class BusClosedError extends BusError {
  override readonly name = 'BusClosedError';
}

/** A request got no reply in time. */
export class BusTimeoutError extends BusError {
  override readonly name = 'BusTimeoutError';
}

/** Nobody serves the command. */
export class BusNoRespondersError extends BusError {
  override readonly name = 'BusNoRespondersError';
}

/** The command handler answered with an error. */
export class BusCommandError extends BusError {
  override readonly name = 'BusCommandError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A message failed its schema at the edge. */
export class InvalidMessageError extends BusError {
  override readonly name = 'InvalidMessageError';
  constructor(
    message: string,
    readonly issues: ReadonlyArray<{ path: string; message: string }>,
  ) {
    super(message);
  }
}

/** The bus settings are contradictory or incomplete (e.g. NATS_USER without NATS_PASSWORD); fixed in config. */
export class BusConfigError extends BusError {
  override readonly name = 'BusConfigError';
}

/**
 * NATS refused this service's credentials or TLS. The message names the server and the method, never the
 * secret; a service that gets it at start stops (it would not get further by retrying).
 */
export class BusAuthError extends BusError {
  override readonly name = 'BusAuthError';
}
