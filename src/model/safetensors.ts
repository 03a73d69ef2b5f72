/**
 * Reading and writing safetensors files (the Hugging Face format):
 *
 *   [u64 little-endian N][N bytes of JSON header][data]
 *
 * The header maps tensor names to { dtype, shape, data_offsets: [begin, end] } with offsets
 * relative to the start of the data, plus an optional "__metadata__" map of strings.
 *
 * Headers with F32, F16, BF16, I8, U8 and I64 tensors are read (Hugging Face checkpoints are F16 or
 * BF16; imported packages hold I8/U8 quantized weights); `readSafetensors` widens the float
 * dtypes to Float32. Other dtypes of the format get "dtype X is not supported".
 *
 * Offsets are also reported as absolute file offsets because ONNX external-data initializers
 * point straight into the weights file (no second copy of the weights on disk).
 */
import { createHash } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { endianness } from 'node:os';
import { XalmaError } from '../errors.ts';
import { bf16ToF32, f16ToF32 } from './half.ts';

/** Every dtype the format defines, with its element size in bytes. */
const DTYPE_BYTES = {
  BOOL: 1, U8: 1, I8: 1, F8_E4M3: 1, F8_E5M2: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  I64: 8, U64: 8, F64: 8,
} as const;
export type SafetensorsDtype = keyof typeof DTYPE_BYTES;
/** The dtypes this project reads and writes. */
const SUPPORTED_DTYPES: ReadonlySet<SafetensorsDtype> = new Set(['F32', 'F16', 'BF16', 'I8', 'U8', 'I64']);
/** The float dtypes `readSafetensors` widens to Float32. */
const FLOAT_DTYPES: ReadonlySet<SafetensorsDtype> = new Set(['F32', 'F16', 'BF16']);

export function dtypeBytes(dtype: SafetensorsDtype): number {
  return DTYPE_BYTES[dtype];
}

const METADATA_KEY = '__metadata__';
/** The header is padded with spaces so the data starts 8-aligned (as the HF writer does). */
const HEADER_ALIGN = 8;
/** The reference implementation caps the header at 100 MB; a larger length is corruption. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;
/** I/O chunk: write(2)/read(2) move at most ~2 GiB per call; 64 MiB keeps memory flat. */
const IO_CHUNK_BYTES = 64 * 1024 * 1024;

export interface F32Tensor {
  shape: number[];
  data: Float32Array;
}

export interface NamedF32Tensor extends F32Tensor {
  name: string;
}

export interface SafetensorsEntry {
  dtype: SafetensorsDtype;
  shape: number[];
  /** Absolute byte offsets in the file: [begin, end). */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** Length of the JSON header (the N of the 8-byte prefix). */
  headerBytes: number;
  /** Absolute offset of the first data byte: 8 + headerBytes. */
  dataStart: number;
  /** Total file size in bytes. */
  fileBytes: number;
  /** In file (data offset) order. */
  tensors: Map<string, SafetensorsEntry>;
  metadata: Record<string, string>;
}

export interface SafetensorsLayout {
  /** The 8-byte length prefix followed by the padded JSON header. */
  header: Buffer;
  dataStart: number;
  /** Absolute [begin, end) of every tensor, in write order. */
  offsets: Array<{ name: string; begin: number; end: number }>;
  /** Total file size. */
  fileBytes: number;
}

function invalid(path: string, detail: string, cause?: unknown): XalmaError {
  return new XalmaError('SAFETENSORS_INVALID', `${path}: ${detail}`, { file: path }, cause === undefined ? undefined : { cause });
}

function assertLittleEndian(): void {
  // Float32Array views share the host byte order; safetensors is little-endian by definition.
  if (endianness() !== 'LE') throw new Error('safetensors I/O needs a little-endian host');
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/** A shape as error messages write it: [2, 3]. */
export function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * The header and absolute offsets a file holding `tensors` (in this order) would have.
 * Lets a caller (e.g. the ONNX builder) know where each tensor lands before writing.
 */
export function safetensorsBytesLayout(
  tensors: ReadonlyArray<{ name: string; shape: readonly number[]; dtype?: SafetensorsDtype }>,
  metadata?: Record<string, string>,
): SafetensorsLayout {
  // Null prototype: a tensor called "__proto__" or "constructor" is just a key.
  const json: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  if (metadata && Object.keys(metadata).length > 0) json[METADATA_KEY] = metadata;
  const relative: Array<{ name: string; begin: number; end: number }> = [];
  const names = new Set<string>();
  let cursor = 0;
  for (const t of tensors) {
    if (t.name === METADATA_KEY) throw new Error(`tensor name ${METADATA_KEY} is reserved`);
    if (names.has(t.name)) throw new Error(`duplicate tensor name ${t.name}`);
    names.add(t.name);
    for (const d of t.shape) {
      if (!Number.isSafeInteger(d) || d < 0) throw new Error(`tensor ${t.name}: bad shape ${shapeText(t.shape)}`);
    }
    const dtype = t.dtype ?? 'F32';
    const bytes = elementCount(t.shape) * DTYPE_BYTES[dtype];
    json[t.name] = { dtype, shape: [...t.shape], data_offsets: [cursor, cursor + bytes] };
    relative.push({ name: t.name, begin: cursor, end: cursor + bytes });
    cursor += bytes;
  }
  const raw = Buffer.from(JSON.stringify(json), 'utf8');
  const padded = Math.ceil((8 + raw.length) / HEADER_ALIGN) * HEADER_ALIGN - 8;
  const header = Buffer.alloc(8 + padded, 0x20);
  header.writeBigUInt64LE(BigInt(padded), 0);
  raw.copy(header, 8);
  const dataStart = 8 + padded;
  return {
    header,
    dataStart,
    offsets: relative.map((r) => ({ name: r.name, begin: dataStart + r.begin, end: dataStart + r.end })),
    fileBytes: dataStart + cursor,
  };
}

async function writeAll(fh: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const len = Math.min(IO_CHUNK_BYTES, bytes.length - done);
    const { bytesWritten } = await fh.write(bytes, done, len, position + done);
    if (bytesWritten <= 0) throw new Error('short write');
    done += bytesWritten;
  }
}

/**
 * Writes an F32 safetensors file: the header, then each tensor's bytes straight from its
 * Float32Array (no concatenation, so a multi-GB model never exists twice in memory).
 * Writes to a temporary name and renames, so a crash never leaves a truncated file behind.
 */
export async function writeSafetensors(
  path: string,
  tensors: ReadonlyArray<NamedF32Tensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  assertLittleEndian();
  for (const t of tensors) {
    const expected = elementCount(t.shape);
    if (t.data.length !== expected) {
      throw new Error(`writeSafetensors ${path}: tensor ${t.name} has ${t.data.length} values, shape ${shapeText(t.shape)} needs ${expected}`);
    }
  }
  const layout = safetensorsBytesLayout(tensors, metadata);
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  const fh = await open(tmp, 'w');
  try {
    await writeAll(fh, layout.header, 0);
    for (let i = 0; i < tensors.length; i++) {
      const d = tensors[i].data;
      await writeAll(fh, new Uint8Array(d.buffer, d.byteOffset, d.byteLength), layout.offsets[i].begin);
    }
  } catch (err) {
    await fh.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  await rename(tmp, path);
}

async function readExactly(fh: FileHandle, target: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < target.length) {
    const len = Math.min(IO_CHUNK_BYTES, target.length - done);
    const { bytesRead } = await fh.read(target, done, len, position + done);
    if (bytesRead <= 0) throw new Error(`unexpected end of file at byte ${position + done}`);
    done += bytesRead;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseEntry(path: string, name: string, raw: unknown, dataStart: number, dataBytes: number): SafetensorsEntry {
  const where = `tensor ${name}`;
  if (!isRecord(raw)) throw invalid(path, `${where}: header entry is not an object`);
  const { dtype, shape, data_offsets: offsets } = raw;
  if (typeof dtype !== 'string' || !Object.hasOwn(DTYPE_BYTES, dtype)) {
    throw invalid(path, `${where}: unknown dtype ${JSON.stringify(dtype)}`);
  }
  const dt = dtype as SafetensorsDtype;
  if (!SUPPORTED_DTYPES.has(dt)) throw invalid(path, `${where}: dtype ${dt} is not supported (${[...SUPPORTED_DTYPES].join(', ')})`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw invalid(path, `${where}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  }
  if (
    !Array.isArray(offsets) || offsets.length !== 2
    || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)
  ) {
    throw invalid(path, `${where}: data_offsets ${JSON.stringify(offsets)} is not [begin, end]`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end || end > dataBytes) {
    throw invalid(path, `${where}: data_offsets [${begin}, ${end}] out of range (data is ${dataBytes} bytes)`);
  }
  const expected = elementCount(shape) * DTYPE_BYTES[dt];
  if (end - begin !== expected) {
    throw invalid(path, `${where}: ${end - begin} bytes of data, shape ${shapeText(shape)} of ${dt} needs ${expected}`);
  }
  return { dtype: dt, shape: [...shape] as number[], begin: dataStart + begin, end: dataStart + end };
}

async function readHeaderFrom(fh: FileHandle, path: string): Promise<SafetensorsHeader> {
  const fileBytes = (await fh.stat()).size;
  if (fileBytes < 8) throw invalid(path, `file is ${fileBytes} bytes, shorter than the 8-byte header length`);
  const prefix = new Uint8Array(8);
  await readExactly(fh, prefix, 0);
  const n = Buffer.from(prefix.buffer).readBigUInt64LE(0);
  if (n > BigInt(fileBytes - 8)) throw invalid(path, `header length ${n} exceeds the file size ${fileBytes}`);
  if (n > BigInt(MAX_HEADER_BYTES)) throw invalid(path, `header length ${n} exceeds ${MAX_HEADER_BYTES} bytes`);
  const headerBytes = Number(n);
  const raw = Buffer.alloc(headerBytes);
  await readExactly(fh, raw, 8);

  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw invalid(path, `header is not valid JSON (${(err as Error).message})`, err);
  }
  if (!isRecord(json)) throw invalid(path, 'header is not a JSON object');

  const dataStart = 8 + headerBytes;
  const dataBytes = fileBytes - dataStart;
  let metadata: Record<string, string> = {};
  const entries: Array<[string, SafetensorsEntry]> = [];
  for (const [name, value] of Object.entries(json)) {
    if (name === METADATA_KEY) {
      if (!isRecord(value)) throw invalid(path, `${METADATA_KEY} is not an object`);
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== 'string') throw invalid(path, `${METADATA_KEY}.${k} is not a string`);
      }
      // fromEntries defines own properties, so a "__proto__" key stays a key.
      metadata = Object.fromEntries(Object.entries(value)) as Record<string, string>;
      continue;
    }
    entries.push([name, parseEntry(path, name, value, dataStart, dataBytes)]);
  }

  // File order, not JSON key order: JS objects list integer-like keys ("0") first.
  // Ties (empty tensors) by end, which is write order except among several empty tensors.
  entries.sort((a, b) => a[1].begin - b[1].begin || a[1].end - b[1].end);
  // Overlap check on the sorted ranges. Holes are tolerated (the reference writer never
  // leaves any, but they cannot make a read wrong); empty tensors never overlap.
  let prev: [string, SafetensorsEntry] | undefined;
  for (const cur of entries) {
    if (cur[1].end === cur[1].begin) continue;
    if (prev && cur[1].begin < prev[1].end) throw invalid(path, `tensors ${prev[0]} and ${cur[0]} overlap`);
    prev = cur;
  }
  return { headerBytes, dataStart, fileBytes, tensors: new Map(entries), metadata };
}

/** Parses and validates the header only (a few KB read, whatever the file size). */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  const fh = await open(path, 'r');
  try {
    return await readHeaderFrom(fh, path);
  } finally {
    await fh.close();
  }
}

/**
 * The bytes of one float tensor as Float32 (F16/BF16 widened exactly, into `out` when given;
 * F32 is a view, copied only if misaligned).
 */
export function floatView(path: string, name: string, e: SafetensorsEntry, bytes: Uint8Array, out?: Float32Array): Float32Array {
  if (!FLOAT_DTYPES.has(e.dtype)) throw invalid(path, `tensor ${name}: dtype ${e.dtype} is not a float type`);
  if (e.dtype === 'F32') {
    return bytes.byteOffset % 4 === 0
      ? new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)
      : new Float32Array(bytes.slice().buffer);
  }
  const halves = bytes.byteOffset % 2 === 0
    ? new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2)
    : new Uint16Array(bytes.slice().buffer);
  return e.dtype === 'F16' ? f16ToF32(halves, out) : bf16ToF32(halves, out);
}

/** Reads one tensor's raw bytes from an open file (into `out` when given, of exactly that size). */
export async function readTensorBytes(fh: FileHandle, e: { begin: number; end: number }, out: Uint8Array = new Uint8Array(e.end - e.begin)): Promise<Uint8Array> {
  await readExactly(fh, out, e.begin);
  return out;
}

/** Largest single read of readSafetensors: a typed array holds at most 4 GiB on Node 20. */
const READ_CHUNK_BYTES = 256 * 1024 * 1024;

/**
 * Reads every tensor as Float32. Runs of consecutive tensors are read together, up to 256 MiB
 * per read (one read per file made a module load cost a read of its bytes, bench/engine.ts;
 * one buffer for the whole file cannot hold an 8 GB X-ALMA module on Node 20), and F32 tensors
 * are views of those buffers (a tensor whose offset is not 4-aligned, legal if unusual, is
 * copied out); F16/BF16 tensors are widened into arrays of their own.
 */
export async function readSafetensors(path: string, opts: { chunkBytes?: number } = {}): Promise<Map<string, F32Tensor>> {
  assertLittleEndian();
  const chunkBytes = opts.chunkBytes ?? READ_CHUNK_BYTES;
  const fh = await open(path, 'r');
  try {
    const header = await readHeaderFrom(fh, path);
    const out = new Map<string, F32Tensor>();
    const entries = [...header.tensors];
    for (let i = 0; i < entries.length;) {
      const first = entries[i][1];
      let j = i + 1;
      while (j < entries.length && entries[j][1].end - first.begin <= chunkBytes) j++;
      const chunk = await readTensorBytes(fh, { begin: first.begin, end: entries[j - 1][1].end });
      for (; i < j; i++) {
        const [name, e] = entries[i];
        if (!FLOAT_DTYPES.has(e.dtype)) throw invalid(path, `tensor ${name}: dtype ${e.dtype} is not a float type`);
        out.set(name, { shape: e.shape, data: floatView(path, name, e, chunk.subarray(e.begin - first.begin, e.end - first.begin)) });
      }
    }
    return out;
  } finally {
    await fh.close();
  }
}

/** Opens a safetensors file for reading tensor by tensor (large checkpoints, shard by shard). */
export async function openSafetensors(path: string): Promise<{ header: SafetensorsHeader; fh: FileHandle }> {
  assertLittleEndian();
  const fh = await open(path, 'r');
  try {
    return { header: await readHeaderFrom(fh, path), fh };
  } catch (err) {
    await fh.close();
    throw err;
  }
}

/**
 * Writes a safetensors file one tensor at a time, in the order of `specs` (the header is
 * computed up front, so nothing is held back in memory). The caller writes to a temporary
 * folder or name and renames when done.
 */
export class SafetensorsWriter {
  private next = 0;
  /** Hashed as written (writes are sequential), so the manifest needs no second read. */
  private readonly hash = createHash('sha256');
  private closed = false;
  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    private readonly layout: SafetensorsLayout,
    private readonly specs: ReadonlyArray<{ name: string; shape: readonly number[]; dtype?: SafetensorsDtype }>,
  ) {}

  static async create(path: string, specs: ReadonlyArray<{ name: string; shape: readonly number[]; dtype?: SafetensorsDtype }>, metadata?: Record<string, string>): Promise<SafetensorsWriter> {
    assertLittleEndian();
    const layout = safetensorsBytesLayout(specs, metadata);
    const fh = await open(path, 'w');
    await writeAll(fh, layout.header, 0);
    const writer = new SafetensorsWriter(path, fh, layout, specs);
    writer.hash.update(layout.header);
    return writer;
  }

  get bytes(): number {
    return this.layout.fileBytes;
  }

  /** sha256 of the whole file; valid once every tensor is written. */
  digest(): string {
    if (this.next !== this.specs.length) throw new Error(`SafetensorsWriter ${this.path}: not finished`);
    return this.hash.digest('hex');
  }

  /** Absolute offsets of every tensor (for ONNX external data). */
  get offsets(): ReadonlyArray<{ name: string; begin: number; end: number }> {
    return this.layout.offsets;
  }

  async write(name: string, bytes: Uint8Array): Promise<void> {
    const spec = this.specs[this.next];
    if (!spec || spec.name !== name) throw new Error(`SafetensorsWriter ${this.path}: expected tensor ${spec?.name ?? '(none)'}, got ${name}`);
    const at = this.layout.offsets[this.next];
    if (bytes.byteLength !== at.end - at.begin) throw new Error(`SafetensorsWriter ${this.path}: tensor ${name} is ${bytes.byteLength} bytes, its header says ${at.end - at.begin}`);
    await writeAll(this.fh, bytes, at.begin);
    this.hash.update(bytes);
    this.next++;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.fh.close();
    if (this.next !== this.specs.length) throw new Error(`SafetensorsWriter ${this.path}: ${this.specs.length - this.next} tensors were not written`);
  }

  /** Closes the file after a failure (the caller removes it); safe to call after close(). */
  async discard(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close();
  }
}
