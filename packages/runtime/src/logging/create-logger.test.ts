import { Writable } from 'node:stream';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import type { DestinationStream } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureLogs } from '../testing.js';
import { createLogger } from './create-logger.js';
import { isSensitiveKey, redactSensitive } from './redact-paths.js';

const SECRETS = [
  'S-auth',
  'S-apikey',
  'S-cookie',
  'S-pass',
  'S-token',
  'S-deep',
  'S-array',
  'S-child',
  'S-err',
];

describe('createLogger redaction', () => {
  it('never writes credentials, whatever their depth or spelling', () => {
    const logs = captureLogs();
    logs.logger.child({ apiKey: 'S-child' }).info(
      {
        req: {
          headers: { authorization: 'Bearer S-auth', 'x-api-key': 'S-apikey', cookie: 'S-cookie', host: 'h' },
        },
        user: { password: 'S-pass' },
        upstream: { auth: { refresh_token: 'S-token' } },
        a: { b: { c: { d: { e: { f: { OPENAI_API_KEY: 'S-deep' } } } } } },
        providers: [{ name: 'openai', clientSecret: 'S-array' }],
        usage: { input_tokens: 12, output_tokens: 34 },
      },
      'calling upstream',
    );
    logs.logger.error({
      err: Object.assign(new Error('boom'), { config: { headers: { authorization: 'S-err' } } }),
    });
    const output = logs.lines().join('');
    for (const secret of SECRETS) expect(output).not.toContain(secret);
    const [line] = logs.entries();
    expect(line).toMatchObject({
      apiKey: '[redacted]',
      req: {
        headers: { authorization: '[redacted]', 'x-api-key': '[redacted]', cookie: '[redacted]', host: 'h' },
      },
      user: { password: '[redacted]' },
      providers: [{ name: 'openai', clientSecret: '[redacted]' }],
      usage: { input_tokens: 12, output_tokens: 34 },
    });
  });

  it('does not modify the object that was logged', () => {
    const logs = captureLogs();
    const payload = { headers: { authorization: 'Bearer S-auth' } };
    logs.logger.info(payload, 'x');
    expect(payload.headers.authorization).toBe('Bearer S-auth');
  });

  it('recognises sensitive keys by suffix but leaves token counts alone', () => {
    for (const key of [
      'Authorization',
      'x-api-key',
      'ANTHROPIC_API_KEY',
      'webhookSecret',
      'set-cookie',
      'idToken',
    ])
      expect(isSensitiveKey(key), key).toBe(true);
    for (const key of ['input_tokens', 'max_tokens', 'tokenCount', 'promptHash', 'agentId'])
      expect(isSensitiveKey(key), key).toBe(false);
    expect(redactSensitive({ list: [1, { token: 'x' }] }, '*')).toEqual({ list: [1, { token: '*' }] });
  });
});

describe('createLogger format and level', () => {
  function collect(): { destination: DestinationStream; text: () => string } {
    const chunks: string[] = [];
    const destination = new Writable({
      write(chunk, _encoding, done) {
        chunks.push(String(chunk));
        done();
      },
    });
    return { destination, text: () => chunks.join('') };
  }

  it('writes JSON lines with service, ISO time and a string level by default when not on a terminal', () => {
    const out = collect();
    createLogger({ service: 'gateway', destination: out.destination, isTty: false }).info({ n: 1 }, 'hello');
    const line = JSON.parse(out.text());
    expect(line).toMatchObject({ service: 'gateway', level: 'info', msg: 'hello', n: 1 });
    expect(line.time).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('is pretty on a terminal in auto mode, and when forced', () => {
    for (const options of [{ isTty: true }, { format: 'pretty' as const, isTty: false }]) {
      const out = collect();
      createLogger({ service: 'gateway', destination: out.destination, ...options }).info('hello pretty');
      expect(out.text()).toContain('hello pretty');
      expect(() => JSON.parse(out.text())).toThrow();
    }
  });

  it('stays JSON on a terminal when LOG_FORMAT=json', () => {
    const out = collect();
    createLogger({ service: 'gateway', destination: out.destination, format: 'json', isTty: true }).info('x');
    expect(JSON.parse(out.text()).msg).toBe('x');
  });

  it('honours the level', () => {
    const out = collect();
    const logger = createLogger({
      service: 's',
      destination: out.destination,
      format: 'json',
      level: 'warn',
    });
    logger.info('hidden');
    logger.warn('shown');
    expect(out.text()).not.toContain('hidden');
    expect(out.text()).toContain('shown');
  });
});

describe('createLogger trace correlation', () => {
  const manager = new AsyncLocalStorageContextManager();
  beforeAll(() => {
    manager.enable();
    context.setGlobalContextManager(manager);
  });
  afterAll(() => {
    context.disable();
  });

  it('adds trace_id and span_id of the active span, including across awaits, and nothing outside', async () => {
    const logs = captureLogs();
    const span = trace.wrapSpanContext({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: 1,
    });
    await context.with(trace.setSpan(context.active(), span), async () => {
      logs.logger.info('inside');
      await new Promise((resolve) => setTimeout(resolve, 1));
      logs.logger.child({ component: 'x' }).info('after await');
    });
    logs.logger.info('outside');
    const [inside, afterAwait, outside] = logs.entries();
    expect(inside).toMatchObject({
      trace_id: '0af7651916cd43dd8448eb211c80319c',
      span_id: 'b7ad6b7169203331',
    });
    expect(inside?.trace_flags).toBe('01');
    expect(afterAwait?.trace_id).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(outside).not.toHaveProperty('trace_id');
  });
});
