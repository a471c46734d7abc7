import { OtlpDecodeError } from './model.js';

/**
 * A protobuf wire-format reader over one buffer: just what the OTLP trace messages use (varint, fixed64,
 * fixed32, length-delimited). Hand-written rather than generated because the ~12 messages are small and a
 * reader that skips unknown fields is all a receiver needs; no dependency, no reflection at run time.
 */
export class ProtoReader {
  pos: number;
  private readonly view: DataView;
  private static readonly utf8 = new TextDecoder('utf-8');

  constructor(
    readonly buf: Uint8Array,
    pos = 0,
    readonly end = buf.length,
  ) {
    this.pos = pos;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  done(): boolean {
    return this.pos >= this.end;
  }

  /** A field's tag: `[fieldNumber, wireType]`. */
  tag(): [number, number] {
    const key = this.varint();
    return [Math.floor(key / 8), key & 7];
  }

  /** A varint as a double: exact up to 2^53, which covers every length, enum and count OTLP carries. */
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new OtlpDecodeError('truncated varint');
      const byte = this.buf[this.pos++] as number;
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
      scale *= 128;
    }
    throw new OtlpDecodeError('varint longer than 10 bytes');
  }

  /** int64 as a number; a negative one (two's complement, 10 bytes) comes back negative. */
  int64(): number {
    const start = this.pos;
    const value = this.varint();
    if (this.pos - start === 10 && value >= 2 ** 63) return value - 2 ** 64;
    return value;
  }

  fixed64(): bigint {
    this.need(8);
    const value = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return value;
  }

  double(): number {
    this.need(8);
    const value = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return value;
  }

  /** A length-delimited field's extent, as a reader positioned on its first byte. */
  sub(): ProtoReader {
    const length = this.varint();
    this.need(length);
    const reader = new ProtoReader(this.buf, this.pos, this.pos + length);
    this.pos += length;
    return reader;
  }

  bytes(): Uint8Array {
    const length = this.varint();
    this.need(length);
    const value = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return value;
  }

  string(): string {
    return ProtoReader.utf8.decode(this.bytes());
  }

  /** Skips a field this receiver does not read (forward compatibility: unknown fields are ignored). */
  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.advance(8);
    else if (wireType === 2) this.advance(this.varint());
    else if (wireType === 5) this.advance(4);
    else throw new OtlpDecodeError(`unsupported wire type ${wireType}`);
  }

  private advance(length: number): void {
    this.need(length);
    this.pos += length;
  }

  private need(length: number): void {
    if (this.pos + length > this.end) throw new OtlpDecodeError('truncated message');
  }
}
