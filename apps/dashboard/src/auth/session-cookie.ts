import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import type { Operator } from './operators.js';

export const SESSION_COOKIE = 'immune_session';

/** What a session cookie says, signed: whose session it is, the token it was made from (sealed), until when. */
export interface SessionClaims {
  /** Operator name. */
  sub: string;
  /** The operator's token, AES-256-GCM sealed with a key only this dashboard (and its replicas) holds. */
  tk: string;
  /** Issued and expiry times, epoch ms. */
  iat: number;
  exp: number;
}

/**
 * Signs and checks session cookies: `base64url(claims JSON) + "." + base64url(HMAC-SHA256)`. Stateless, so a
 * restart with the same secret keeps sessions and replicas share them. The token rides along sealed (the
 * dashboard stores no clear token anywhere, and it needs the token to forward each command), so the cookie is
 * worthless without the dashboard's key, and rotating a token ends its sessions at the next request.
 */
export class SessionCodec {
  private readonly key: Buffer;
  private readonly sealKey: Buffer;

  constructor(
    secret: string | undefined,
    readonly ttlMs: number,
  ) {
    this.key = secret === undefined ? randomBytes(32) : Buffer.from(secret, 'utf8');
    // A separate key for sealing, derived from the signing key, so neither use weakens the other.
    this.sealKey = createHash('sha256').update('immune-session-seal\0').update(this.key).digest();
  }

  issue(operator: Operator, now: number): { value: string; claims: SessionClaims } {
    const claims: SessionClaims = {
      sub: operator.name,
      tk: this.seal(operator.token),
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

  /** The token a verified session was made from; undefined when it cannot be unsealed. */
  tokenOf(claims: SessionClaims): string | undefined {
    try {
      const sealed = Buffer.from(claims.tk, 'base64url');
      if (sealed.length < 12 + 16 + 1) return undefined;
      const decipher = createDecipheriv('aes-256-gcm', this.sealKey, sealed.subarray(0, 12));
      decipher.setAuthTag(sealed.subarray(12, 28));
      return Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()]).toString('utf8');
    } catch {
      return undefined;
    }
  }

  private seal(token: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.sealKey, iv);
    const sealed = Buffer.concat([cipher.update(token, 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64url');
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
    typeof claims.tk === 'string' &&
    typeof claims.iat === 'number' &&
    typeof claims.exp === 'number'
  );
}
