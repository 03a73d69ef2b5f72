/**
 * The matrix products of one decode step (one new token per row) and tiny ONNX graphs that run
 * just those products, for the GEMM roofline (bench/roofline.ts).
 */
import { LORA_TARGETS, linearShape, type LlamaDims } from '../../src/model/architecture.ts';
import { DataType, encodeModel, type TensorDef } from '../../src/model/onnx-proto.ts';
import { Rng } from '../../src/model/random.ts';

export interface GemmShape {
  /** [rows, k] x [k, n] */
  k: number;
  n: number;
  /** How many weights of this shape one decode step multiplies by (layers x targets, lm_head once). */
  count: number;
  /** Which weights they are. */
  label: string;
}

/** Distinct weight shapes of a decode step with their counts (embedding lookup is no product). */
export function decodeStepShapes(dims: LlamaDims): GemmShape[] {
  const byShape = new Map<string, GemmShape>();
  for (const t of LORA_TARGETS) {
    const [k, n] = linearShape(dims, t);
    const key = `${k}x${n}`;
    const s = byShape.get(key);
    if (s) {
      s.count += dims.numLayers;
      s.label += `, ${t}`;
    } else byShape.set(key, { k, n, count: dims.numLayers, label: t });
  }
  byShape.set(`lm_head`, { k: dims.hiddenSize, n: dims.vocabSize, count: 1, label: 'lm_head' });
  return [...byShape.values()];
}

/** Multiply-adds x 2 of one decode step at `rows` rows (matrix products only). */
export function decodeStepFlops(dims: LlamaDims, rows: number): number {
  return decodeStepShapes(dims).reduce((f, s) => f + 2 * rows * s.k * s.n * s.count, 0);
}

/**
 * One input x [rows, k] times `count` distinct weights [k, n], each product a graph output.
 * Distinct weights (not one reused) so the bytes stream from memory as in the real step:
 * a single [768, 768] weight would sit in cache and flatter the roofline.
 */
export function gemmGraph(shape: GemmShape, seed: number): Buffer {
  const rng = new Rng(seed);
  const initializers: TensorDef[] = [];
  const nodes = [];
  const outputs = [];
  for (let i = 0; i < shape.count; i++) {
    const w = rng.fillNormal(new Float32Array(shape.k * shape.n), 1 / Math.sqrt(shape.k));
    initializers.push({ name: `w${i}`, dims: [shape.k, shape.n], dataType: DataType.FLOAT, raw: new Uint8Array(w.buffer) });
    nodes.push({ opType: 'MatMul', inputs: ['x', `w${i}`], outputs: [`y${i}`], name: `matmul_${i}` });
    outputs.push({ name: `y${i}`, elemType: DataType.FLOAT, shape: ['rows', shape.n] });
  }
  return encodeModel({
    irVersion: 8,
    opsets: [{ domain: '', version: 17 }],
    producerName: 'xalma-serve bench/roofline',
    graph: { name: 'gemm', nodes, initializers, inputs: [{ name: 'x', elemType: DataType.FLOAT, shape: ['rows', shape.k] }], outputs },
  });
}
