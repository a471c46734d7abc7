import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Operator } from './operators.js';

export const SESSION_COOKIE = 'immune_session';

/** What a session cookie says, signed: whose session it is, from which token, until when. */
export interface SessionClaims {
  /** Operator name. */
  sub: string;
  /** Fingerprint of the token the session was made from. */
  fp: string;
  /** Issued and expiry times, epoch ms. */
  iat: number;
  exp: number;
}

/**
 * Signs and checks session cookies: `base64url(claims JSON) + "." + base64url(HMAC-SHA256)`. Stateless, so a
 * restart with the same secret keeps sessions and replicas share them; the token itself is never in the cookie.
 */
export class SessionCodec {
  private readonly key: Buffer;

  constructor(
    secret: string | undefined,
    readonly ttlMs: number,
  ) {
    this.key = secret === undefined ? randomBytes(32) : Buffer.from(secret, 'utf8');
  }

  issue(operator: Operator, now: number): { value: string; claims: SessionClaims } {
    const claims: SessionClaims = {
      sub: operator.name,
      fp: operator.fingerprint,
      iat: now,
      exp: now + this.ttlMs,
    };
    const body = Buffer.from(JSON.stringify(claims), 'utf8').toString('base64url');
    return { value: `${body}.${this.sign(body)}`, claims };
  }

  /** The claims of a well-signed, unexpired cookie; undefined for anything else. */
  verify(value: string, now: number): SessionClaims | undefined {
    const dot = value.indexOf('.');
    if (dot <= 0 || value.length > 4096) return undefined;
    const body = value.slice(0, dot);
    const signature = Buffer.from(value.slice(dot + 1), 'base64url');
    const expected = Buffer.from(this.sign(body), 'base64url');
    if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) return undefined;
    let claims: unknown;
    try {
      claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
    if (!isClaims(claims) || claims.exp <= now) return undefined;
    return claims;
  }

  private sign(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }
}

function isClaims(value: unknown): value is SessionClaims {
  if (typeof value !== 'object' || value === null) return false;
  const claims = value as Record<string, unknown>;
  return (
    typeof claims.sub === 'string' &&
    typeof claims.fp === 'string' &&
    typeof claims.iat === 'number' &&
    typeof claims.exp === 'number'
  );
}
