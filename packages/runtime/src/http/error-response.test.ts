import { describe, expect, it } from 'vitest';
import { toErrorReply, validationIssues } from './error-response.js';
import { HttpError } from './http-error.js';

describe('toErrorReply', () => {
  it('maps fastify content-type errors to client statuses with stable codes', () => {
    expect(
      toErrorReply({ code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415, message: 'x' }, 1),
    ).toMatchObject({
      statusCode: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
      expose: true,
    });
    expect(toErrorReply({ code: 'FST_ERR_CTP_EMPTY_JSON_BODY', statusCode: 400 }, 1)).toMatchObject({
      statusCode: 400,
      code: 'INVALID_JSON',
    });
  });

  it('keeps other 4xx statuses but replaces fastify-internal codes with the status name', () => {
    expect(
      toErrorReply({ code: 'FST_ERR_BAD_URL', statusCode: 400, message: "'/%' is not a valid url" }, 1),
    ).toEqual({
      statusCode: 400,
      code: 'BAD_REQUEST',
      message: "'/%' is not a valid url",
      expose: true,
    });
    expect(toErrorReply({ statusCode: 429, code: 'RATE_LIMITED', message: 'slow down' }, 1)).toMatchObject({
      statusCode: 429,
      code: 'RATE_LIMITED',
    });
  });

  it('turns anything else into a generic 500 that is not exposed', () => {
    for (const error of [
      new Error('secret internals'),
      'a string',
      null,
      { statusCode: 502, message: 'upstream' },
    ]) {
      expect(toErrorReply(error, 1)).toEqual({
        statusCode: 500,
        code: 'INTERNAL_ERROR',
        message: 'internal server error',
        expose: false,
      });
    }
  });

  it('exposes an HttpError even with a 5xx status, since the route chose its message', () => {
    expect(toErrorReply(new HttpError(503, 'UPSTREAM_UNAVAILABLE', 'no provider is reachable'), 1)).toEqual({
      statusCode: 503,
      code: 'UPSTREAM_UNAVAILABLE',
      message: 'no provider is reachable',
      expose: true,
    });
  });
});

describe('validationIssues', () => {
  it('names fields from Ajv and TypeBox errors alike', () => {
    expect(
      validationIssues(
        [
          { instancePath: '', keyword: 'required', params: { missingProperty: 'model' }, message: 'x' },
          {
            instancePath: '/messages/0',
            keyword: 'required',
            params: { requiredProperties: ['role', 'content'] },
          },
          { instancePath: '', keyword: 'additionalProperties', params: { additionalProperty: 'extra' } },
          { instancePath: '/max_tokens', keyword: 'minimum', message: 'must be >= 1' },
        ],
        'body',
      ),
    ).toEqual([
      { field: 'body.model', message: 'is required' },
      { field: 'body.messages.0.role', message: 'is required' },
      { field: 'body.messages.0.content', message: 'is required' },
      { field: 'body.extra', message: 'is not allowed' },
      { field: 'body.max_tokens', message: 'must be >= 1' },
    ]);
  });
});
