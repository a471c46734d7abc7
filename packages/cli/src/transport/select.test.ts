import { describe, expect, it } from 'vitest';
import { chooseTransport } from './select.js';

describe('chooseTransport', () => {
  it('defaults to the dashboard when no NATS is given', () => {
    expect(chooseTransport({}, {})).toEqual({ kind: 'http', url: 'http://localhost:8090', token: undefined });
    expect(chooseTransport({}, { IMMUNE_URL: 'https://immune.example', IMMUNE_TOKEN: 't' })).toEqual({
      kind: 'http',
      url: 'https://immune.example',
      token: 't',
    });
  });
  it('uses NATS when $NATS_URL is set or --nats given, and --url overrides $NATS_URL', () => {
    expect(chooseTransport({}, { NATS_URL: 'nats://n:4222' })).toEqual({
      kind: 'nats',
      url: 'nats://n:4222',
      prefix: 'immune',
      token: undefined,
    });
    expect(chooseTransport({ nats: 'nats://x', prefix: 'p' }, {})).toEqual({
      kind: 'nats',
      url: 'nats://x',
      prefix: 'p',
      token: undefined,
    });
    expect(
      chooseTransport({ nats: 'nats://x' }, { IMMUNE_OPERATOR_TOKEN: 'imo_a', IMMUNE_TOKEN: 'old' }),
    ).toMatchObject({ kind: 'nats', token: 'imo_a' });
    expect(chooseTransport({ url: 'http://d:1', token: 'k' }, { NATS_URL: 'nats://n' })).toEqual({
      kind: 'http',
      url: 'http://d:1',
      token: 'k',
    });
  });
  it('refuses both, and a URL that is not http', () => {
    expect(() => chooseTransport({ url: 'http://d', nats: 'nats://n' }, {})).toThrow('not both');
    expect(() => chooseTransport({ url: 'localhost:8090' }, {})).toThrow('http(s) URL');
  });
});
