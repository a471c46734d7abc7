import { createHash, timingSafeEqual } from 'node:crypto';
import type { NamedToken, Role } from '../config.js';

/** Who a request acts for: shown in the UI and recorded on every command. */
export interface OperatorIdentity {
  name: string;
  role: Role;
}

/**
 * A known token holder. `token` stays on the server: it is what the dashboard will forward on the operator's
 * behalf once commands on the bus are authenticated (the session cookie carries only the name and a
 * fingerprint of the token, never the token).
 */
export interface Operator extends OperatorIdentity {
  token: string;
  /** First 16 bytes of SHA-256(token), hex: ties a session to the token it was made from. */
  fingerprint: string;
}

const digest = (token: string) => createHash('sha256').update(token, 'utf8').digest();

/** The configured tokens, looked up in constant time per token. */
export class OperatorDirectory {
  private readonly operators: ReadonlyArray<Operator & { digest: Buffer }>;

  constructor(tokens: readonly NamedToken[]) {
    const names = new Set<string>();
    const digests = new Set<string>();
    this.operators = tokens.map((entry) => {
      if (names.has(entry.name)) throw new Error(`dashboard tokens: the name ${entry.name} is used twice`);
      const hash = digest(entry.token);
      const hex = hash.toString('hex');
      if (digests.has(hex)) throw new Error(`dashboard tokens: ${entry.name}'s token is also another's`);
      names.add(entry.name);
      digests.add(hex);
      return { ...entry, digest: hash, fingerprint: hex.slice(0, 32) };
    });
  }

  get size(): number {
    return this.operators.length;
  }

  /** The holder of a presented token. Every stored digest is compared, so timing tells nothing. */
  byToken(presented: string): Operator | undefined {
    const candidate = digest(presented);
    let found: (Operator & { digest: Buffer }) | undefined;
    for (const operator of this.operators) {
      if (timingSafeEqual(candidate, operator.digest)) found = operator;
    }
    return found === undefined ? undefined : strip(found);
  }

  /** The holder named in a session, while that token is still configured (rotating a token ends its sessions). */
  bySession(name: string, fingerprint: string): Operator | undefined {
    const found = this.operators.find(
      (operator) => operator.name === name && operator.fingerprint === fingerprint,
    );
    return found === undefined ? undefined : strip(found);
  }
}

function strip(operator: Operator & { digest: Buffer }): Operator {
  const { digest: _digest, ...rest } = operator;
  return rest;
}

/** DASHBOARD_OPERATOR_TOKEN (named DASHBOARD_OPERATOR_NAME) and DASHBOARD_TOKENS, as one list. */
export function configuredTokens(config: {
  DASHBOARD_OPERATOR_TOKEN?: string | undefined;
  DASHBOARD_OPERATOR_NAME: string;
  DASHBOARD_TOKENS: readonly NamedToken[];
}): NamedToken[] {
  return [
    ...(config.DASHBOARD_OPERATOR_TOKEN === undefined
      ? []
      : [
          {
            name: config.DASHBOARD_OPERATOR_NAME,
            role: 'operator' as const,
            token: config.DASHBOARD_OPERATOR_TOKEN,
          },
        ]),
    ...config.DASHBOARD_TOKENS,
  ];
}
