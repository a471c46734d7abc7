/**
 * The one base64 codec of core (checkpoints: the detector's float baselines, triage's packed agent state).
 * No Buffer, so core stays free of Node-only APIs.
 */
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const PAD = '='.charCodeAt(0);
const B64_CODES = Uint8Array.from(B64, (c) => c.charCodeAt(0));
const B64_INDEX = new Int16Array(128).fill(-1);
for (let i = 0; i < B64.length; i++) B64_INDEX[B64.charCodeAt(i)] = i;
const ASCII = new TextDecoder();

/**
 * The encoder writes character codes into one buffer for the process (grown when needed) and decodes them
 * to a string once: a checkpoint of thousands of agents builds no intermediate strings or byte arrays.
 */
let scratch = new Uint8Array(1024);

/** Base64 of `bytes[0, length)`. */
export function bytesToBase64(bytes: Uint8Array, length = bytes.length): string {
  const size = Math.ceil(length / 3) * 4;
  if (scratch.length < size) scratch = new Uint8Array(size * 2);
  const out = scratch;
  let o = 0;
  let i = 0;
  for (; i + 2 < length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out[o] = B64_CODES[n >> 18]!;
    out[o + 1] = B64_CODES[(n >> 12) & 63]!;
    out[o + 2] = B64_CODES[(n >> 6) & 63]!;
    out[o + 3] = B64_CODES[n & 63]!;
    o += 4;
  }
  const rest = length - i;
  if (rest > 0) {
    const n = (bytes[i]! << 16) | (rest === 2 ? bytes[i + 1]! << 8 : 0);
    out[o] = B64_CODES[n >> 18]!;
    out[o + 1] = B64_CODES[(n >> 12) & 63]!;
    out[o + 2] = rest === 2 ? B64_CODES[(n >> 6) & 63]! : PAD;
    out[o + 3] = PAD;
    o += 4;
  }
  return ASCII.decode(out.subarray(0, o));
}

/** The bytes `text` encodes, into `into` (which must be exactly that long) or a new array; `where` names the source in errors. */
export function base64ToBytes(text: string, where: string, into?: Uint8Array): Uint8Array {
  const clean = text.replace(/=+$/, '');
  const length = Math.floor((clean.length * 3) / 4);
  const out = into ?? new Uint8Array(length);
  if (out.length !== length) throw new RangeError(`${where}: holds ${length} bytes, expected ${out.length}`);
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
      out[at++] = (value >> bits) & 0xff;
    }
  }
  return out;
}
