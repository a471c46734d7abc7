/**
 * Float64 arrays as base64 (little-endian IEEE 754), exact and compact: a checkpointed baseline restores
 * bit for bit, in about half the characters of JSON numbers. No Buffer, so core stays free of Node-only APIs.
 */
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Int16Array(128).fill(-1);
for (let i = 0; i < B64.length; i++) B64_INDEX[B64.charCodeAt(i)] = i;

export function floatsToBase64(values: Float64Array): string {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += B64[n >> 18]! + B64[(n >> 12) & 63]! + B64[(n >> 6) & 63]! + B64[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest > 0) {
    const n = (bytes[i]! << 16) | (rest === 2 ? bytes[i + 1]! << 8 : 0);
    out += `${B64[n >> 18]!}${B64[(n >> 12) & 63]!}${rest === 2 ? B64[(n >> 6) & 63]! : '='}=`;
  }
  return out;
}

/** Decodes into `into`; the text must hold exactly `into.length` doubles. */
export function base64ToFloats(text: string, into: Float64Array, where: string): void {
  const clean = text.replace(/=+$/, '');
  const bytes = new Uint8Array(into.buffer, into.byteOffset, into.byteLength);
  if (Math.floor((clean.length * 3) / 4) !== bytes.length) {
    throw new RangeError(
      `${where}: holds ${Math.floor((clean.length * 3) / 32)} numbers, expected ${into.length}`,
    );
  }
  let bits = 0;
  let value = 0;
  let at = 0;
  for (let i = 0; i < clean.length; i++) {
    const code = clean.charCodeAt(i);
    const digit = code < 128 ? B64_INDEX[code]! : -1;
    if (digit < 0) throw new RangeError(`${where}: not base64`);
    value = ((value << 6) | digit) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes[at++] = (value >> bits) & 0xff;
    }
  }
}
