import type { OperatorIdentity, OperatorRole, OperatorTokens } from './operator-tokens.js';

/**
 * A refused operator request. `code` travels in bus error replies (`unauthenticated`: no token or an unknown
 * one; `forbidden`: a valid token whose role may not do this), and HTTP maps them to 401 and 403.
 */
export class OperatorAuthError extends Error {
  constructor(
    readonly code: 'unauthenticated' | 'forbidden',
    message: string,
  ) {
    super(message);
    this.name = 'OperatorAuthError';
  }
}

/**
 * Who sent a request, when they may do what it asks: `viewer` lets either role read, `operator` only
 * operators decide. Throws OperatorAuthError with a message that says what to do, never what was sent.
 */
export function authorizeOperator(
  tokens: OperatorTokens,
  presented: string | undefined,
  needs: OperatorRole,
  what: string,
): OperatorIdentity {
  if (presented === undefined || presented === '') {
    throw new OperatorAuthError(
      'unauthenticated',
      `${what} needs an operator token (IMMUNE_OPERATOR_TOKEN for the CLI, a dashboard login)`,
    );
  }
  const identity = tokens.verify(presented);
  if (identity === undefined) {
    throw new OperatorAuthError(
      'unauthenticated',
      tokens.size === 0
        ? `${what}: no operator tokens are configured here (set IMMUNE_OPERATOR_TOKENS or IMMUNE_OPERATOR_TOKENS_FILE)`
        : `${what}: the operator token is not valid here`,
    );
  }
  if (needs === 'operator' && identity.role !== 'operator') {
    throw new OperatorAuthError(
      'forbidden',
      `${what} needs the operator role; ${identity.name} is a ${identity.role}`,
    );
  }
  return identity;
}
