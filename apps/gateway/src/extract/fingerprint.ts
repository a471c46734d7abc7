import { createHash } from 'node:crypto';

/** Identifies a repeated request: the same agent sending the same bytes to the same path. */
export function requestHashOf(agentId: string, path: string, body: Uint8Array | string): string {
  return createHash('sha256')
    .update(agentId)
    .update('\0')
    .update(path)
    .update('\0')
    .update(body)
    .digest('hex')
    .slice(0, 32);
}
