import type { OperatorIdentity, OperatorTokens } from '@immune/runtime';

export type { OperatorIdentity };

/**
 * A logged-in holder. `token` stays on the server side of the dashboard: it is forwarded with every command
 * the operator sends (the healer and the sentinel check it themselves and record its name). The browser's
 * session cookie carries it only encrypted (session-cookie.ts).
 */
export interface Operator extends OperatorIdentity {
  token: string;
}

/** The shared operator tokens (hashes, `@immune/runtime`'s OperatorTokens), seen as the dashboard needs them. */
export class OperatorDirectory {
  constructor(private readonly tokens: OperatorTokens) {}

  get size(): number {
    return this.tokens.size;
  }

  /** The holder of a presented token, compared in constant time against every configured hash. */
  byToken(presented: string): Operator | undefined {
    const identity = this.tokens.verify(presented);
    return identity === undefined ? undefined : { ...identity, token: presented };
  }
}
