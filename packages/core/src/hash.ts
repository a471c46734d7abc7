/**
 * 32-bit string hashes for per-agent state kept as numbers (prompt hashes, repetition fingerprints, dedupe ids).
 * They are checkpointed, so their values must never change.
 */

/** FNV-1a. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A second, independent hash (djb2 with xor): two 32-bit hashes make a false duplicate ~2^-64 per pair. */
export function djb2(text: string): number {
  let h = 5381;
  for (let i = 0; i < text.length; i++) h = Math.imul(h, 33) ^ text.charCodeAt(i);
  return h >>> 0;
}
