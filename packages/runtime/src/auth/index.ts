// @immune/runtime/auth: operator tokens (mint, hash, parse, verify) and role checks. No fastify, no I/O but
// reading the token file, so the CLI can bundle it.
export { authorizeOperator, OperatorAuthError } from './authorize.js';
export {
  hashOperatorToken,
  isOperatorName,
  MAX_OPERATOR_TOKEN_LENGTH,
  mintOperatorToken,
  OPERATOR_ROLES,
  OPERATOR_TOKEN_PREFIX,
  type OperatorIdentity,
  type OperatorRole,
  type OperatorTokenEntry,
  OperatorTokens,
  operatorTokenLine,
  parseOperatorTokenLines,
} from './operator-tokens.js';
export { loadOperatorTokens, OperatorTokensEnv } from './operator-tokens-env.js';
