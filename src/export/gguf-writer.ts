/**
 * Writing GGUF files (llama.cpp's model format, version 3), from its specification
 * (ggml-org/ggml docs/gguf.md). No maintained npm library writes GGUF: @huggingface/gguf
 * parses files and rewrites headers of existing ones, it does not lay out tensor data.
 *
 * Layout, all little-endian:
 *   "GGUF" u32 version=3, u64 tensor_count, u64 kv_count
 *   kv_count x { string key, u32 value_type, value }          string = u64 length + UTF-8
 *   tensor_count x { string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset }
 *   padding to `general.alignment` (32), then tensor data, each tensor at its offset (relative
 *   to the start of the data section, a multiple of the alignment).
 * `ne[0]` is the contiguous axis: a row-major matrix [rows, cols] is written as ne = [cols, rows].
 *
 * Tensor bytes are produced one tensor at a time by a callback, so exporting a model needs
 * memory for one tensor, not the whole file.
 */
import { open } from 'node:fs/promises';
import { ggmlTypeSize, type GgmlType } from './ggml-quants.ts';

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_VERSION = 3;
export const GGUF_ALIGNMENT = 32;

/** gguf_type: the value types of metadata. */
export const GgufValueType = {
  UINT8: 0, INT8: 1, UINT16: 2, INT16: 3, UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7, STRING: 8, ARRAY: 9, UINT64: 10, INT64: 11, FLOAT64: 12,
} as const;

/** A metadata value with its GGUF type spelled out (JS numbers do not say u32 vs f32). */
export type GgufValue =
  | { type: 'u32'; value: number }
  | { type: 'i32'; value: number }
  | { type: 'f32'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'string[]'; value: readonly string[] }
  | { type: 'f32[]'; value: ArrayLike<number> }
  | { type: 'i32[]'; value: ArrayLike<number> };

export interface GgufTensorSpec {
  name: string;
  /** ggml order: ne[0] is the contiguous axis. */
  ne: number[];
  type: GgmlType;
  /** The tensor's bytes in ggml layout; called once, in file order. */
  data: () => Uint8Array | Promise<Uint8Array>;
}

/** Bytes of a tensor of `type` with dims `ne` (ne[0] must be a whole number of blocks). */
export function tensorBytes(type: GgmlType, ne: readonly number[]): number {
  const { blockSize, bytesPerBlock } = ggmlTypeSize(type);
  if (ne[0] % blockSize !== 0) throw new Error(`ne[0] ${ne[0]} is not a multiple of the ${blockSize}-element block of ggml type ${type}`);
  return (ne.reduce((a, b) => a * b, 1) / blockSize) * bytesPerBlock;
}

const align = (n: number, a: number) => Math.ceil(n / a) * a;

/** Appends little-endian values to a growing buffer (the header is small: KB to a few MB of vocabulary). */
class ByteSink {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u32(v: number): void { this.room(4); this.view.setUint32(this.length, v, true); this.length += 4; }
  i32(v: number): void { this.room(4); this.view.setInt32(this.length, v, true); this.length += 4; }
  u64(v: number): void { this.room(8); this.view.setBigUint64(this.length, BigInt(v), true); this.length += 8; }
  f32(v: number): void { this.room(4); this.view.setFloat32(this.length, v, true); this.length += 4; }
  u8(v: number): void { this.room(1); this.buf[this.length++] = v; }
  string(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  pad(to: number): void {
    const n = align(this.length, to) - this.length;
    this.room(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }
  bytes(): Uint8Array { return this.buf.subarray(0, this.length); }
}

function writeValue(s: ByteSink, v: GgufValue): void {
  const T = GgufValueType;
  switch (v.type) {
    case 'u32': s.u32(T.UINT32); s.u32(v.value); return;
    case 'i32': s.u32(T.INT32); s.i32(v.value); return;
    case 'f32': s.u32(T.FLOAT32); s.f32(v.value); return;
    case 'bool': s.u32(T.BOOL); s.u8(v.value ? 1 : 0); return;
    case 'string': s.u32(T.STRING); s.string(v.value); return;
    case 'string[]': s.u32(T.ARRAY); s.u32(T.STRING); s.u64(v.value.length); for (const x of v.value) s.string(x); return;
    case 'f32[]': s.u32(T.ARRAY); s.u32(T.FLOAT32); s.u64(v.value.length); for (let i = 0; i < v.value.length; i++) s.f32(v.value[i]); return;
    case 'i32[]': s.u32(T.ARRAY); s.u32(T.INT32); s.u64(v.value.length); for (let i = 0; i < v.value.length; i++) s.i32(v.value[i]); return;
  }
}

/** Header + metadata + tensor infos + padding, and each tensor's offset in the data section. */
export function ggufHeader(metadata: ReadonlyMap<string, GgufValue>, tensors: readonly Omit<GgufTensorSpec, 'data'>[]): { header: Uint8Array; offsets: number[]; sizes: number[] } {
  const s = new ByteSink();
  s.u32(GGUF_MAGIC);
  s.u32(GGUF_VERSION);
  s.u64(tensors.length);
  s.u64(metadata.size);
  for (const [key, value] of metadata) {
    s.string(key);
    writeValue(s, value);
  }
  const offsets: number[] = [];
  const sizes: number[] = [];
  let offset = 0;
  for (const t of tensors) {
    const size = tensorBytes(t.type, t.ne);
    s.string(t.name);
    s.u32(t.ne.length);
    for (const d of t.ne) s.u64(d);
    s.u32(t.type);
    s.u64(offset);
    offsets.push(offset);
    sizes.push(size);
    offset = align(offset + size, GGUF_ALIGNMENT);
  }
  s.pad(GGUF_ALIGNMENT);
  return { header: s.bytes(), offsets, sizes };
}

/** Writes a GGUF file; resolves to its size in bytes. */
export async function writeGguf(path: string, metadata: ReadonlyMap<string, GgufValue>, tensors: readonly GgufTensorSpec[]): Promise<number> {
  const { header, offsets, sizes } = ggufHeader(metadata, tensors);
  const fh = await open(path, 'w');
  try {
    await fh.write(header, 0, header.length, 0);
    const zeros = new Uint8Array(GGUF_ALIGNMENT);
    let end = header.length;
    for (let i = 0; i < tensors.length; i++) {
      const data = await tensors[i].data();
      if (data.length !== sizes[i]) throw new Error(`gguf: tensor ${tensors[i].name} has ${data.length} bytes, its type and shape say ${sizes[i]}`);
      const at = header.length + offsets[i];
      if (at > end) await fh.write(zeros, 0, at - end, end);
      await fh.write(data, 0, data.length, at);
      end = at + data.length;
    }
    // The data section ends aligned too, as gguf-py writes it.
    const total = align(end - header.length, GGUF_ALIGNMENT) + header.length;
    if (total > end) await fh.write(zeros, 0, total - end, end);
    return total;
  } finally {
    await fh.close();
  }
}
