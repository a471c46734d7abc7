import { base64ToBytes, bytesToBase64 } from './base64.js';

/**
 * How a checkpoint stores one slot: a double; a float32 (the slot must only ever hold float32 values, so
 * storing it loses nothing); an unsigned or a signed integer, as a LEB128 varint (signed ones zigzagged).
 */
export type SlotEncoding = 'f64' | 'f32' | 'uint' | 'int';

export interface SlotField {
  readonly name: string;
  readonly encoding: SlotEncoding;
}

/** A named run of slots, in order (one metric's baseline). */
export interface SlotGroup {
  readonly name: string;
  readonly fields: readonly SlotField[];
}

/**
 * Packs a Float64Array of slots, laid out as consecutive groups, into bytes and back, losslessly. Per group:
 * a presence mask (one bit per field, ⌈fields / 8⌉ bytes; a field that is 0 is left out), then the present
 * fields in order, each in its encoding. On a healthy agent the episode fields (evidence, quiet period,
 * shift run) are 0, and a metric an agent's calls never carry is all 0, so neither costs more than its mask.
 */
export class SlotCodec {
  /** The slots described: `group.field:encoding`, in order, for a checkpoint's layout hash. */
  readonly layout: string;
  readonly slots: number;
  private readonly encodings: readonly SlotEncoding[][];
  private readonly scratch: Uint8Array;
  private readonly view: DataView;

  constructor(groups: readonly SlotGroup[]) {
    this.encodings = groups.map((group) => group.fields.map((field) => field.encoding));
    this.slots = this.encodings.reduce((sum, fields) => sum + fields.length, 0);
    this.layout = [
      'presence-masked',
      ...groups.flatMap((group) => group.fields.map((f) => `${group.name}.${f.name}:${f.encoding}`)),
    ].join(',');
    // Worst case: every field present, a varint of a 2^53 integer taking 8 bytes.
    const most = this.encodings.reduce(
      (sum, fields) => sum + maskBytes(fields.length) + 8 * fields.length,
      0,
    );
    this.scratch = new Uint8Array(most);
    this.view = new DataView(this.scratch.buffer);
  }

  /** Base64 of the packed `stats`; throws a RangeError if an integer slot holds something else. */
  toBase64(stats: Float64Array): string {
    const view = this.view;
    let at = 0;
    let slot = 0;
    for (const fields of this.encodings) {
      const maskAt = at;
      const bytes = maskBytes(fields.length);
      for (let b = 0; b < bytes; b++) view.setUint8(at++, 0);
      for (let f = 0; f < fields.length; f++) {
        const value = stats[slot++]!;
        if (Object.is(value, 0)) continue;
        view.setUint8(maskAt + (f >> 3), view.getUint8(maskAt + (f >> 3)) | (1 << (f & 7)));
        const encoding = fields[f]!;
        if (encoding === 'f64') {
          view.setFloat64(at, value);
          at += 8;
        } else if (encoding === 'f32') {
          view.setFloat32(at, value);
          at += 4;
        } else {
          at = this.writeVarint(at, encoding === 'uint' ? value : zigzag(value), slot - 1);
        }
      }
    }
    return bytesToBase64(this.scratch, at);
  }

  /** Unpacks `text` into `stats`; throws a RangeError (naming `where`) unless it is exactly one packing. */
  fromBase64(text: string, stats: Float64Array, where: string): void {
    const bytes = base64ToBytes(text, where);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const end = bytes.length;
    const short = () => new RangeError(`${where}: ends before its layout does`);
    let at = 0;
    let slot = 0;
    for (const fields of this.encodings) {
      const bytesOfMask = maskBytes(fields.length);
      if (at + bytesOfMask > end) throw short();
      const maskAt = at;
      at += bytesOfMask;
      const spare = bytesOfMask * 8 - fields.length;
      if (spare > 0 && view.getUint8(at - 1) >> (8 - spare) !== 0) {
        throw new RangeError(`${where}: presence mask names a field the layout does not have`);
      }
      for (let f = 0; f < fields.length; f++) {
        const present = (view.getUint8(maskAt + (f >> 3)) >> (f & 7)) & 1;
        if (present === 0) {
          stats[slot++] = 0;
          continue;
        }
        const encoding = fields[f]!;
        if (encoding === 'f64') {
          if (at + 8 > end) throw short();
          stats[slot++] = view.getFloat64(at);
          at += 8;
        } else if (encoding === 'f32') {
          if (at + 4 > end) throw short();
          stats[slot++] = view.getFloat32(at);
          at += 4;
        } else {
          let value = 0;
          let scale = 1;
          let byte = 0x80;
          for (let k = 0; byte & 0x80; k++) {
            if (at >= end) throw short();
            if (k === 8) throw new RangeError(`${where}: an integer longer than 2^53`);
            byte = view.getUint8(at++);
            value += (byte & 0x7f) * scale;
            scale *= 128;
          }
          if (!Number.isSafeInteger(value)) throw new RangeError(`${where}: an integer longer than 2^53`);
          stats[slot++] = encoding === 'uint' ? value : unzigzag(value);
        }
      }
    }
    if (at !== end) throw new RangeError(`${where}: holds ${end} bytes, its layout ${at}`);
  }

  private writeVarint(at: number, value: number, slot: number): number {
    if (!(Number.isSafeInteger(value) && value >= 0)) {
      throw new RangeError(`slot ${slot}: ${value} is not an integer the layout can store`);
    }
    const view = this.view;
    let rest = value;
    while (rest >= 0x80) {
      view.setUint8(at++, (rest % 0x80) | 0x80);
      rest = Math.floor(rest / 0x80);
    }
    view.setUint8(at++, rest);
    return at;
  }
}

function maskBytes(fields: number): number {
  return Math.ceil(fields / 8);
}

/** Signed to unsigned, small magnitudes small: 0, −1, 1, −2 … → 0, 1, 2, 3 … (NaN for a non-integer). */
function zigzag(value: number): number {
  if (!Number.isInteger(value)) return Number.NaN;
  return value < 0 ? -2 * value - 1 : 2 * value;
}

function unzigzag(value: number): number {
  return value % 2 === 1 ? -(value + 1) / 2 : value / 2;
}
