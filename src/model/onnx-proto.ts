/**
 * A minimal protobuf writer for the parts of onnx.proto (ModelProto) that the graph builder
 * emits. Field numbers follow onnx/onnx.proto (IR version 8). Writing by hand keeps the
 * project free of a protobuf dependency and lets big weight buffers be passed through as
 * Buffer chunks without copying them into JS arrays.
 */

/** onnx TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, BOOL: 9, FLOAT16: 10 } as const;
export type DataTypeId = (typeof DataType)[keyof typeof DataType];

export type AttributeValue = number | string | number[] | { f: number } | { ints: number[] } | { floats: number[] } | TensorDef;

export interface NodeDef {
  opType: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  domain?: string;
  /** Integers (Number.isInteger) are written as INT, other numbers as FLOAT, `{ f }` always as FLOAT; arrays as INTS. */
  attributes?: Record<string, AttributeValue>;
}

export interface ExternalRef {
  location: string;
  offset: number;
  length: number;
}

export interface TensorDef {
  name: string;
  dims: number[];
  dataType: DataTypeId;
  /** Exactly one of raw or external. */
  raw?: Uint8Array;
  external?: ExternalRef;
}

export interface ValueInfoDef {
  name: string;
  elemType: DataTypeId;
  /** number = fixed size, string = symbolic dimension. */
  shape: Array<number | string>;
}

export interface ModelDef {
  irVersion: number;
  opsets: Array<{ domain: string; version: number }>;
  producerName: string;
  graph: {
    name: string;
    nodes: NodeDef[];
    initializers: TensorDef[];
    inputs: ValueInfoDef[];
    outputs: ValueInfoDef[];
  };
  metadata?: Record<string, string>;
}

const WIRE_VARINT = 0;
const WIRE_FIXED32 = 5;
const WIRE_LEN = 2;

/** Accumulates protobuf bytes as a list of chunks; nested messages are encoded first and prefixed. */
class ProtoWriter {
  private chunks: Uint8Array[] = [];
  private scratch: number[] = [];
  length = 0;

  private flushScratch(): void {
    if (this.scratch.length === 0) return;
    const bytes = Uint8Array.from(this.scratch);
    this.chunks.push(bytes);
    this.length += bytes.length;
    this.scratch = [];
  }

  private varint(value: number): void {
    // Negative int64 values are written as 10-byte two's complement, as protobuf requires.
    let v = BigInt.asUintN(64, BigInt(value));
    while (v >= 0x80n) {
      this.scratch.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.scratch.push(Number(v));
  }

  private tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  int(field: number, value: number): this {
    this.tag(field, WIRE_VARINT);
    this.varint(value);
    return this;
  }

  float(field: number, value: number): this {
    this.tag(field, WIRE_FIXED32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.scratch.push(...b);
    return this;
  }

  bytes(field: number, data: Uint8Array): this {
    this.tag(field, WIRE_LEN);
    this.varint(data.length);
    this.flushScratch();
    this.chunks.push(data);
    this.length += data.length;
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, inner: ProtoWriter): this {
    inner.flushScratch();
    this.tag(field, WIRE_LEN);
    this.varint(inner.length);
    this.flushScratch();
    for (const c of inner.chunks) this.chunks.push(c);
    this.length += inner.length;
    return this;
  }

  packedInts(field: number, values: number[]): this {
    const inner = new ProtoWriter();
    for (const v of values) inner.varint(v);
    return this.message(field, inner);
  }

  finish(): Buffer {
    this.flushScratch();
    return Buffer.concat(this.chunks, this.length);
  }
}

function tensorProto(t: TensorDef): ProtoWriter {
  const w = new ProtoWriter();
  w.packedInts(1, t.dims);
  w.int(2, t.dataType);
  w.string(8, t.name);
  if (t.external) {
    for (const [key, value] of [
      ['location', t.external.location],
      ['offset', String(t.external.offset)],
      ['length', String(t.external.length)],
    ]) {
      w.message(13, new ProtoWriter().string(1, key).string(2, value));
    }
    w.int(14, 1); // data_location = EXTERNAL
  } else {
    w.bytes(9, t.raw ?? new Uint8Array(0));
  }
  return w;
}

const ATTR = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

function attributeProto(name: string, value: AttributeValue): ProtoWriter {
  const w = new ProtoWriter().string(1, name);
  if (typeof value === 'number') {
    if (Number.isInteger(value)) w.int(3, value).int(20, ATTR.INT);
    else w.float(2, value).int(20, ATTR.FLOAT);
  } else if (typeof value === 'string') {
    w.string(4, value).int(20, ATTR.STRING);
  } else if (!Array.isArray(value) && 'f' in value) {
    w.float(2, value.f).int(20, ATTR.FLOAT);
  } else if (Array.isArray(value) || 'ints' in value) {
    const ints = Array.isArray(value) ? value : value.ints;
    w.packedInts(8, ints).int(20, ATTR.INTS);
  } else if ('floats' in value) {
    // packed floats: field 7, wire type LEN, raw little-endian float32s
    w.bytes(7, new Uint8Array(new Float32Array(value.floats).buffer)).int(20, ATTR.FLOATS);
  } else {
    w.message(5, tensorProto(value)).int(20, ATTR.TENSOR);
  }
  return w;
}

function nodeProto(n: NodeDef): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  if (n.name) w.string(3, n.name);
  w.string(4, n.opType);
  for (const [k, v] of Object.entries(n.attributes ?? {})) w.message(5, attributeProto(k, v));
  if (n.domain) w.string(7, n.domain);
  return w;
}

function valueInfoProto(v: ValueInfoDef): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.shape) {
    const dim = new ProtoWriter();
    if (typeof d === 'number') dim.int(1, d);
    else dim.string(2, d);
    shape.message(1, dim);
  }
  const tensorType = new ProtoWriter().int(1, v.elemType).message(2, shape);
  const type = new ProtoWriter().message(1, tensorType);
  return new ProtoWriter().string(1, v.name).message(2, type);
}

/** Serializes a model to ONNX protobuf bytes. */
export function encodeModel(m: ModelDef): Buffer {
  const g = new ProtoWriter();
  for (const n of m.graph.nodes) g.message(1, nodeProto(n));
  g.string(2, m.graph.name);
  for (const t of m.graph.initializers) g.message(5, tensorProto(t));
  for (const i of m.graph.inputs) g.message(11, valueInfoProto(i));
  for (const o of m.graph.outputs) g.message(12, valueInfoProto(o));

  const w = new ProtoWriter();
  w.int(1, m.irVersion);
  w.string(2, m.producerName);
  w.message(7, g);
  for (const o of m.opsets) w.message(8, new ProtoWriter().string(1, o.domain).int(2, o.version));
  for (const [k, v] of Object.entries(m.metadata ?? {})) w.message(14, new ProtoWriter().string(1, k).string(2, v));
  return w.finish();
}

export function floatInitializer(name: string, dims: number[], data: Float32Array): TensorDef {
  return { name, dims, dataType: DataType.FLOAT, raw: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

export function int64Initializer(name: string, dims: number[], values: number[]): TensorDef {
  const data = new BigInt64Array(values.map((v) => BigInt(v)));
  return { name, dims, dataType: DataType.INT64, raw: new Uint8Array(data.buffer) };
}
