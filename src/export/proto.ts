// SPDX-License-Identifier: Apache-2.0
/**
 * A small protobuf writer: varints, fixed 64-bit fields, strings, nested messages. Enough
 * for the OTLP messages the agent sends; sizes are computed before writing, so a message is
 * written once into a Buffer of its exact size (no growing, no copying).
 */

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;

const TWO_32 = 4294967296;

/** Bytes of a varint holding a non-negative integer up to 2^53. */
export function varintSize(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  let n = 4;
  v = Math.floor(v / 0x10000000);
  while (v > 0) {
    n++;
    v = Math.floor(v / 128);
  }
  return n;
}

/** Bytes of a length-delimited field holding `len` bytes. */
export function fieldSize(field: number, len: number): number {
  return varintSize(field << 3) + varintSize(len) + len;
}

/** A writer over a Buffer sized by the caller. */
export class ProtoWriter {
  readonly buf: Buffer;
  pos: number;

  constructor(buf: Buffer, pos = 0) {
    this.buf = buf;
    this.pos = pos;
  }

  static sized(size: number): ProtoWriter {
    return new ProtoWriter(Buffer.allocUnsafe(size));
  }

  varint(v: number): void {
    const b = this.buf;
    while (v >= 0x80) {
      // `& 0x7f` reads the low 7 bits of the double's integer value, also above 2^31.
      b[this.pos++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    b[this.pos++] = v;
  }

  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  /** A length-delimited field's tag and length; the caller writes `len` bytes next. */
  header(field: number, len: number): void {
    this.tag(field, WIRE_LEN);
    this.varint(len);
  }

  raw(bytes: Uint8Array): void {
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  bytes(field: number, bytes: Uint8Array): void {
    this.header(field, bytes.length);
    this.raw(bytes);
  }

  string(field: number, s: string): void {
    const n = Buffer.byteLength(s, 'utf8');
    this.header(field, n);
    this.pos += this.buf.write(s, this.pos, n, 'utf8');
  }

  double(field: number, v: number): void {
    this.tag(field, WIRE_I64);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  /** An sfixed64/fixed64 field from an integer double (exact up to 2^53). */
  int64(field: number, v: number): void {
    this.tag(field, WIRE_I64);
    writeInt64(this.buf, this.pos, v);
    this.pos += 8;
  }

  /** A fixed64 field from a bigint (timestamps in nanoseconds exceed 2^53). */
  fixed64(field: number, v: bigint): void {
    this.tag(field, WIRE_I64);
    this.buf.writeBigUInt64LE(v, this.pos);
    this.pos += 8;
  }

  /** The bytes written so far. */
  done(): Buffer {
    return this.pos === this.buf.length ? this.buf : this.buf.subarray(0, this.pos);
  }
}

/** Writes an integer double as a little-endian two's-complement 64-bit value. */
export function writeInt64(buf: Buffer, pos: number, v: number): void {
  if (v >= 0 && v < Number.MAX_SAFE_INTEGER) {
    buf.writeUInt32LE(v % TWO_32, pos);
    buf.writeUInt32LE(Math.floor(v / TWO_32), pos + 4);
  } else {
    buf.writeBigInt64LE(BigInt(Math.trunc(v)), pos);
  }
}

/**
 * Builds a message whose size is not known ahead (the small, rare parts: the resource, the
 * SDK's metrics): fields appended as chunks, measured, then joined.
 */
export class MessageBuilder {
  readonly #chunks: Buffer[] = [];
  #size = 0;

  get size(): number {
    return this.#size;
  }

  #push(b: Buffer): void {
    this.#chunks.push(b);
    this.#size += b.length;
  }

  varintField(field: number, v: number): this {
    const w = ProtoWriter.sized(varintSize(field << 3) + varintSize(v));
    w.tag(field, WIRE_VARINT);
    w.varint(v);
    this.#push(w.buf);
    return this;
  }

  /** int64 as a varint (negative values take 10 bytes, two's complement). */
  int64Varint(field: number, v: number): this {
    if (v >= 0) return this.varintField(field, v);
    const w = ProtoWriter.sized(11);
    w.tag(field, WIRE_VARINT);
    let u = BigInt.asUintN(64, BigInt(Math.trunc(v)));
    while (u >= 0x80n) {
      w.buf[w.pos++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    w.buf[w.pos++] = Number(u);
    this.#push(w.done());
    return this;
  }

  string(field: number, s: string): this {
    const n = Buffer.byteLength(s, 'utf8');
    const w = ProtoWriter.sized(fieldSize(field, n));
    w.string(field, s);
    this.#push(w.buf);
    return this;
  }

  bytes(field: number, b: Uint8Array): this {
    const w = ProtoWriter.sized(fieldSize(field, b.length));
    w.bytes(field, b);
    this.#push(w.buf);
    return this;
  }

  message(field: number, m: MessageBuilder): this {
    return this.bytes(field, m.finish());
  }

  double(field: number, v: number): this {
    const w = ProtoWriter.sized(varintSize(field << 3) + 8);
    w.double(field, v);
    this.#push(w.buf);
    return this;
  }

  int64(field: number, v: number): this {
    const w = ProtoWriter.sized(varintSize(field << 3) + 8);
    w.int64(field, v);
    this.#push(w.buf);
    return this;
  }

  fixed64(field: number, v: bigint): this {
    const w = ProtoWriter.sized(varintSize(field << 3) + 8);
    w.fixed64(field, v);
    this.#push(w.buf);
    return this;
  }

  /** A packed repeated fixed64 (integers) or double field. */
  packed(field: number, values: readonly number[], kind: 'fixed64' | 'double'): this {
    if (values.length === 0) return this;
    const body = Buffer.allocUnsafe(values.length * 8);
    values.forEach((v, i) => (kind === 'double' ? body.writeDoubleLE(v, i * 8) : writeInt64(body, i * 8, v)));
    return this.bytes(field, body);
  }

  raw(b: Buffer): this {
    this.#push(b);
    return this;
  }

  finish(): Buffer {
    return this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#size);
  }
}
