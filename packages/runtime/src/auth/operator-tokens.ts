import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A viewer sees everything; an operator also decides (approve, reject, heal, release, write policies, ...). */
export const OPERATOR_ROLES = ['viewer', 'operator'] as const;
export type OperatorRole = (typeof OPERATOR_ROLES)[number];

/** Who a command acts for: the token's configured name, never a name the caller wrote. */
export interface OperatorIdentity {
  name: string;
  role: OperatorRole;
}

/** One configured token, as stored: its holder's name, role and the SHA-256 of the token (hex). */
export interface OperatorTokenEntry extends OperatorIdentity {
  hash: string;
}

/** Minted tokens start with this, so a leaked one is recognisable (and greppable) as an Immune operator token. */
export const OPERATOR_TOKEN_PREFIX = 'imo_';
/** Longer presented tokens are refused before hashing: nothing configured is that long. */
export const MAX_OPERATOR_TOKEN_LENGTH = 512;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/;
const HASH = /^[0-9a-f]{64}$/;

/**
 * A new token: 32 random bytes (256 bits), so a plain SHA-256 is a sufficient hash at rest (no dictionary or
 * brute force can reach a value of that entropy; a slow hash such as scrypt only matters for human passwords).
 */
export function mintOperatorToken(): string {
  return `${OPERATOR_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

export function hashOperatorToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** The configuration line of a token: `name:role:sha256-hex`. Contains no secret. */
export function operatorTokenLine(entry: OperatorTokenEntry): string {
  return `${entry.name}:${entry.role}:${entry.hash}`;
}

export function isOperatorName(name: string): boolean {
  return NAME.test(name);
}

/**
 * Parses `name:role:hash` entries, separated by newlines, commas or spaces; `#` starts a comment. Throws on
 * the first bad entry, naming where it is (`source`) and what is wrong, but never echoing the entry (an operator
 * who pasted a clear token by mistake must not find it in the error log).
 */
export function parseOperatorTokenLines(text: string, source: string): OperatorTokenEntry[] {
  const entries: OperatorTokenEntry[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, index) => {
    const content = line.replace(/#.*$/, '');
    for (const item of content.split(/[\s,]+/).filter((part) => part !== '')) {
      const where = `${source}${lines.length > 1 ? ` line ${index + 1}` : ''}, entry ${entries.length + 1}`;
      const parts = item.split(':');
      if (parts.length !== 3) throw new Error(`${where}: expected name:role:sha256-hex`);
      const [name, role, hash] = parts as [string, string, string];
      if (!isOperatorName(name))
        throw new Error(
          `${where}: the name must be 1-128 letters, digits or . _ @ - (starting alphanumeric)`,
        );
      if (!(OPERATOR_ROLES as readonly string[]).includes(role))
        throw new Error(`${where}: the role must be one of ${OPERATOR_ROLES.join(', ')}`);
      if (!HASH.test(hash))
        throw new Error(
          `${where}: the hash must be 64 lowercase hex digits (SHA-256 of the token; \`immune token create\` prints the line)`,
        );
      entries.push({ name, role: role as OperatorRole, hash });
    }
  });
  return entries;
}

/**
 * The configured operator tokens, held only as hashes. A presented token is hashed and compared with every
 * stored hash in constant time, so neither the result nor the timing says which entry (or how much of one)
 * matched.
 */
export class OperatorTokens {
  private readonly entries: ReadonlyArray<OperatorIdentity & { digest: Buffer }>;

  constructor(entries: readonly OperatorTokenEntry[]) {
    const names = new Set<string>();
    const hashes = new Set<string>();
    this.entries = entries.map((entry) => {
      if (names.has(entry.name)) throw new Error(`operator tokens: the name ${entry.name} is used twice`);
      if (hashes.has(entry.hash)) throw new Error(`operator tokens: ${entry.name}'s token is also another's`);
      names.add(entry.name);
      hashes.add(entry.hash);
      return { name: entry.name, role: entry.role, digest: Buffer.from(entry.hash, 'hex') };
    });
  }

  get size(): number {
    return this.entries.length;
  }

  /** The holder of a presented token, or undefined. */
  verify(presented: string | undefined): OperatorIdentity | undefined {
    if (presented === undefined || presented === '' || presented.length > MAX_OPERATOR_TOKEN_LENGTH)
      return undefined;
    const candidate = createHash('sha256').update(presented, 'utf8').digest();
    let found: OperatorIdentity | undefined;
    for (const entry of this.entries) {
      if (timingSafeEqual(candidate, entry.digest)) found = { name: entry.name, role: entry.role };
    }
    return found;
  }
}
