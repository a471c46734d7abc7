/**
 * Key names whose values are credentials wherever they appear in a log object. Keys are compared
 * case-insensitively with `-` and `_` removed, and by suffix, so `x-api-key`, `apiKey`, `OPENAI_API_KEY`,
 * `clientSecret`, `refresh_token` and `Set-Cookie` all match while `input_tokens` (a vital) does not.
 */
const SENSITIVE_KEY =
  /(authorization|cookie|apikey|password|passwd|secret|token|privatekey|credentials?|connectionstring|databaseurl)$/;

export function isSensitiveKey(key: string): boolean {
  return SENSITIVE_KEY.test(key.toLowerCase().replace(/[-_]/g, ''));
}

/** Common credential names, redacted as top-level keys of child-logger bindings. */
const TOP_LEVEL_KEYS = [
  'authorization',
  'cookie',
  'apiKey',
  'api_key',
  'apikey',
  'password',
  'token',
  'accessToken',
  'access_token',
  'refreshToken',
  'refresh_token',
  'secret',
  'clientSecret',
  'client_secret',
  'privateKey',
  'connectionString',
  'databaseUrl',
  'DATABASE_URL',
];

/**
 * pino `redact` paths for what the deep key walk in `redactSensitive` cannot see: shapes that only exist after
 * pino's serializers ran (`req`/`res`, errors), and child-logger bindings, which pino serialises without the
 * log formatter. Kept free of wildcards: every intermediate wildcard makes pino's redactor walk the whole object
 * once more per path, which cost about 30 times the logging time in a measurement.
 */
export const SERIALIZED_REDACT_PATHS: readonly string[] = [
  ...TOP_LEVEL_KEYS,
  'req.headers.authorization',
  'req.headers["proxy-authorization"]',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'req.headers["x-goog-api-key"]',
  'res.headers["set-cookie"]',
  'err.config.headers.authorization',
  'err.config.headers["x-api-key"]',
];

/** Past this depth objects are logged as they are; log objects that deep are rare and costly to walk. */
const MAX_DEPTH = 10;

/**
 * Returns `value` with every sensitive key's value replaced by `censor`, at any depth, through plain objects and
 * arrays. Nothing is copied unless something is redacted, and class instances (errors, requests, buffers) are
 * left to pino's serializers.
 */
export function redactSensitive(value: unknown, censor: string, depth = 0): unknown {
  if (depth > MAX_DEPTH || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let index = 0; index < value.length; index++) {
      const item = value[index];
      const redacted = redactSensitive(item, censor, depth + 1);
      if (redacted !== item) {
        copy ??= value.slice();
        copy[index] = redacted;
      }
    }
    return copy ?? value;
  }
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return value;
  let copy: Record<string, unknown> | undefined;
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    const item = record[key];
    const redacted =
      isSensitiveKey(key) && item !== undefined && item !== null
        ? censor
        : redactSensitive(item, censor, depth + 1);
    if (redacted !== item) {
      copy ??= { ...record };
      copy[key] = redacted;
    }
  }
  return copy ?? value;
}
