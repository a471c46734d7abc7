import { readFileSync } from 'node:fs';
import { Type } from 'typebox';
import { OperatorTokens, parseOperatorTokenLines } from './operator-tokens.js';

/**
 * The env fragment of every service that checks operator tokens (healer, sentinel, gateway, dashboard): the
 * same list everywhere, as hashes only (`immune token create` prints a token once and its line).
 */
export const OperatorTokensEnv = {
  /** `name:role:sha256-hex` entries, separated by commas, spaces or newlines. */
  IMMUNE_OPERATOR_TOKENS: Type.String({ default: '' }),
  /** A file of such entries, one a line (`#` comments): a mounted Kubernetes Secret or ConfigMap, say. */
  IMMUNE_OPERATOR_TOKENS_FILE: Type.Optional(Type.String({ minLength: 1 })),
};

/** Reads both sources into one directory; a bad entry or an unreadable file fails the start with its place. */
export function loadOperatorTokens(config: {
  IMMUNE_OPERATOR_TOKENS: string;
  IMMUNE_OPERATOR_TOKENS_FILE?: string | undefined;
}): OperatorTokens {
  const entries = parseOperatorTokenLines(config.IMMUNE_OPERATOR_TOKENS, 'IMMUNE_OPERATOR_TOKENS');
  const file = config.IMMUNE_OPERATOR_TOKENS_FILE;
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new Error(`IMMUNE_OPERATOR_TOKENS_FILE ${file}: ${(error as Error).message}`);
    }
    entries.push(...parseOperatorTokenLines(text, file));
  }
  return new OperatorTokens(entries);
}
