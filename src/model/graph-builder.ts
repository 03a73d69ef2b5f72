/**
 * Emits the X-ALMA (LLaMA-2) decoder as an ONNX graph, in the variants the engine needs:
 *   - lora 'none':    plain weights (the base graph, and merged W + scale*B@A graphs);
 *   - lora 'inputs':  LoRA factors of one module fed as graph inputs (zero-copy hot swap on CPU);
 *   - lora 'stacked': the factors of all G modules inside the graph, selected per batch row by a
 *                     `module_ids` input, so one batch can mix groups (Punica/S-LoRA style).
 * I/O follows the usual decoder names (input_ids, attention_mask, position_ids,
 * past_key_values.<i>.key/value -> logits, present.<i>.key/value) so other runtimes can run the
 * same files.
 *
 * Op choice, measured with `npx tsx bench/graph-ops.ts` on the bench model (12 layers, hidden
 * 768, vocab 32000; 2-core EPYC; bench/results/graph-ops.md), decode step at batch 32, past 64:
 *   - RMSNorm: onnxruntime's SimplifiedLayerNormalization 71.1 ms vs the standard
 *     Mul/ReduceMean/Sqrt chain 79.5 ms (and 308 vs 489 ms session creation): the engine uses
 *     the contrib op (src/engine/graphs.ts); base.onnx keeps standard ops for other runtimes.
 *   - logits for the last position only: 71.1 vs 84.8 ms per step, 304 vs 430 ms prefill (8x48).
 *   - stacked LoRA for mixed batches: one-hot GEMM 83.5 ms vs per-row Gather + batched MatMul
 *     114.9 ms (plain 71.1, one module as inputs 85.9).
 *   - RoPE: Gather of cos/sin tables. Attention: onnxruntime's GroupQueryAttention over the
 *     engine's KV cache ('gqa', the engine's layout: bench/results/continuous.md and kv-cache.ts
 *     say why it reads the cache and does not write it in place), else standard ops
 *     (MatMul/Softmax with GQA heads folded into the query axis, so K/V are never repeated).
 */
import { LORA_TARGETS, linearShape, tensorNames, type LlamaDims, type LoraConfig, type LoraTarget } from './architecture.ts';
import { INT4_BLOCK, linearStorage, type WeightDtype } from './weight-storage.ts';
import { XalmaError } from '../errors.ts';
import { DataType, encodeModel, floatInitializer, int64Initializer, type DataTypeId, type ExternalRef, type NodeDef, type TensorDef, type ValueInfoDef, type AttributeValue } from './onnx-proto.ts';

/**
 * Where an initializer's bytes come from: inline, or a range of an external file; its element
 * type (default FLOAT) as stored.
 */
export type WeightData = ({ raw: Uint8Array } | { external: ExternalRef }) & { dataType?: DataTypeId };
export type WeightSource = (name: string, shape: number[]) => WeightData;
/** One LoRA factor of one module (PEFT layout: A [r, in], B [out, r]); null = no module (zeros). */
export type FactorSource = (slot: number, layer: number, target: LoraTarget, factor: 'A' | 'B', shape: number[]) => WeightData | null;

/**
 * How all mode applies each row's own module (bench/all-mode.ts measures them):
 *   - onehot: every module's LoRA for every row, masked to the row's own (one GEMM pair; costs
 *     G times one module's FLOPs: fine at low rank, ~2x the base at X-ALMA's rank/hidden ratio);
 *   - grouped: token rows sorted by module (inputs module_order/module_inverse/module_bounds),
 *     each module's GEMMs over its own rows only (Punica's SGMV idea in standard ops: one
 *     module's FLOPs per row, plus a few small ops per module);
 *   - gather: each row's factors gathered and applied with batched MatMuls (copies factors).
 */
export type StackedKernel = 'gather' | 'onehot' | 'grouped';

export type KvLayout = 'concat' | 'append' | 'gqa';

export type LoraVariant =
  | { kind: 'none' }
  | { kind: 'inputs'; config: LoraConfig }
  /**
   * One module folded into float weights inside the graph: W + scale * (B @ A)^T from the
   * module's own factors. Every input is an initializer, so ORT's constant folding computes the
   * merged weight once at session creation (with its own GEMM) and the graph runs plain MatMuls.
   */
  | { kind: 'folded'; config: LoraConfig; factors: FactorSource }
  /**
   * The factors of G modules, each an initializer of its own (external data straight from the
   * module files), concatenated in the graph; ORT folds the Concat at session creation, so no
   * stacked copy is ever built in JavaScript and no graph carries the factors inline.
   */
  | { kind: 'stacked'; config: LoraConfig; groups: number; kernel: StackedKernel; factors: FactorSource };

export interface DecoderGraphOptions {
  dims: LlamaDims;
  weights: WeightSource;
  lora: LoraVariant;
  /**
   * 'last' computes logits for the final position only; 'all' for every position; 'index' for
   * one position per row, named by a `logits_index` input (flattened [b*s] indices: right-padded
   * prompts end at different positions).
   */
  logits: 'all' | 'last' | 'index';
  /**
   * How the KV cache crosses the graph boundary (default 'concat'):
   *   - 'concat': present = past ++ new (the usual decoder I/O other runtimes expect);
   *   - 'append': present = the new positions only; past is a fixed-capacity cache [b, kvh, cap,
   *     hd] whose unused positions attention_mask hides; the caller writes present into it;
   *   - 'gqa': onnxruntime's GroupQueryAttention reads a fixed-capacity cache [b, kvh, cap, hd]
   *     (each row's keys at 0..seqlens_k, right-padded) and attends over each row's own length;
   *     present = the new positions only, which the caller writes into the cache.
   */
  kv?: KvLayout;
  /** 'standard' = Pow/ReduceMean/Sqrt chain; 'contrib' = SimplifiedLayerNormalization. */
  norm: 'standard' | 'contrib';
  /** How linears and lm_head are stored (weight-storage.ts); default float32. */
  weightDtype?: WeightDtype;
}

export const OPSET = 17;
export const IR_VERSION = 8;

/**
 * LoRA factors enter the graph in PEFT's own layout, A [r, in] and B [out, r], and are applied
 * with Gemm(transB=1) so a module loads without any transposition: the graph reads straight
 * from the safetensors bytes (cold load ~= reading the file, bench/engine.ts). `scale` rides on
 * Gemm's alpha.
 */
export function loraInputName(layer: number, target: LoraTarget, factor: 'A' | 'B'): string {
  return `lora.layers.${layer}.${target}.${factor}`;
}

export const pastKeyName = (l: number) => `past_key_values.${l}.key`;
export const pastValueName = (l: number) => `past_key_values.${l}.value`;
export const presentKeyName = (l: number) => `present.${l}.key`;
export const presentValueName = (l: number) => `present.${l}.value`;

/** Small helper that names intermediate values and collects nodes/initializers. */
class Graph {
  nodes: NodeDef[] = [];
  initializers: TensorDef[] = [];
  inputs: ValueInfoDef[] = [];
  outputs: ValueInfoDef[] = [];
  private counter = 0;
  private constants = new Map<string, string>();

  op(opType: string, inputs: string[], attributes?: Record<string, AttributeValue>, domain?: string): string {
    return this.opN(opType, inputs, 1, attributes, domain)[0];
  }

  opN(opType: string, inputs: string[], outputs: number, attributes?: Record<string, AttributeValue>, domain?: string): string[] {
    const id = this.counter++;
    const outs = Array.from({ length: outputs }, (_, k) => `${opType.toLowerCase()}_${id}_${k}`);
    this.nodes.push({ opType, inputs, outputs: outs, name: `${opType}_${id}`, attributes, domain });
    return outs;
  }

  /** Renames a value to a graph output name via Identity. */
  output(value: string, info: ValueInfoDef): void {
    this.nodes.push({ opType: 'Identity', inputs: [value], outputs: [info.name], name: `out_${info.name}` });
    this.outputs.push(info);
  }

  int64s(values: number[]): string {
    const key = `i64:${values.join(',')}`;
    let name = this.constants.get(key);
    if (!name) {
      name = `const_i64_${this.constants.size}`;
      this.initializers.push(int64Initializer(name, [values.length], values));
      this.constants.set(key, name);
    }
    return name;
  }

  int64Scalar(value: number): string {
    const key = `i64s:${value}`;
    let name = this.constants.get(key);
    if (!name) {
      name = `const_i64s_${this.constants.size}`;
      this.initializers.push(int64Initializer(name, [], [value]));
      this.constants.set(key, name);
    }
    return name;
  }

  floatScalar(value: number): string {
    const key = `f32:${value}`;
    let name = this.constants.get(key);
    if (!name) {
      name = `const_f32_${this.constants.size}`;
      this.initializers.push(floatInitializer(name, [], new Float32Array([value])));
      this.constants.set(key, name);
    }
    return name;
  }

  weight(name: string, shape: number[], data: WeightData): string {
    this.initializers.push({ name, dims: shape, ...data, dataType: data.dataType ?? DataType.FLOAT });
    return name;
  }
}

/** cos/sin tables [maxPositions, headDim/2] for HF LLaMA rotary embeddings. */
export function ropeTables(dims: LlamaDims): { cos: Float32Array; sin: Float32Array } {
  const half = dims.headDim / 2;
  const cos = new Float32Array(dims.maxPositions * half);
  const sin = new Float32Array(dims.maxPositions * half);
  for (let p = 0; p < dims.maxPositions; p++) {
    for (let j = 0; j < half; j++) {
      const angle = p * Math.pow(dims.ropeTheta, (-2 * j) / dims.headDim);
      cos[p * half + j] = Math.cos(angle);
      sin[p * half + j] = Math.sin(angle);
    }
  }
  return { cos, sin };
}

export function buildDecoderGraph(opts: DecoderGraphOptions): Buffer {
  const { dims, lora } = opts;
  const g = new Graph();
  const w = (name: string, shape: number[]) => g.weight(name, shape, opts.weights(name, shape));
  const { numHeads: nh, numKvHeads: kvh, headDim: hd, hiddenSize: hidden } = dims;
  const half = hd / 2;

  const kv = opts.kv ?? 'concat';
  const gqa = kv === 'gqa';
  if (gqa && hd % 8 !== 0) throw new XalmaError('INTERNAL_ERROR', `GroupQueryAttention needs a head size that is a multiple of 8, not ${hd}`);
  g.inputs.push({ name: 'input_ids', elemType: DataType.INT64, shape: ['batch_size', 'sequence_length'] });
  if (!gqa) g.inputs.push({ name: 'attention_mask', elemType: DataType.INT64, shape: ['batch_size', 'total_sequence_length'] });
  g.inputs.push({ name: 'position_ids', elemType: DataType.INT64, shape: ['batch_size', 'sequence_length'] });
  if (gqa) {
    // GroupQueryAttention's own inputs: each row's keys so far minus one, and the longest total.
    g.inputs.push({ name: 'seqlens_k', elemType: DataType.INT32, shape: ['batch_size'] });
    g.inputs.push({ name: 'total_sequence_length', elemType: DataType.INT32, shape: [] });
  }
  if (opts.logits === 'index') g.inputs.push({ name: 'logits_index', elemType: DataType.INT64, shape: ['batch_size'] });
  const pastAxis = kv === 'concat' ? 'past_sequence_length' : 'cache_capacity';
  for (let l = 0; l < dims.numLayers; l++) {
    for (const name of [pastKeyName(l), pastValueName(l)]) {
      g.inputs.push({ name, elemType: DataType.FLOAT, shape: ['batch_size', kvh, pastAxis, hd] });
    }
  }

  // Per-row module selection for the stacked variant.
  let rowMask = '';
  let moduleIds = '';
  let bounds: string[] = [];
  if (lora.kind === 'stacked' && lora.kernel === 'grouped') {
    // Token rows ([b*s]) in module order, the way back, and where each module's rows start.
    g.inputs.push({ name: 'module_order', elemType: DataType.INT64, shape: ['tokens'] });
    g.inputs.push({ name: 'module_inverse', elemType: DataType.INT64, shape: ['tokens'] });
    g.inputs.push({ name: 'module_bounds', elemType: DataType.INT64, shape: [lora.groups + 1] });
    bounds = Array.from({ length: lora.groups + 1 }, (_, k) => g.op('Slice', ['module_bounds', g.int64s([k]), g.int64s([k + 1])]));
  } else if (lora.kind === 'stacked') {
    g.inputs.push({ name: 'module_ids', elemType: DataType.INT64, shape: ['batch_size'] });
    moduleIds = 'module_ids';
    if (lora.kernel === 'onehot') {
      // [b] -> one-hot [b, G] -> repeated over the sequence -> [b*s, G, 1], multiplied into
      // the [b*s, G, r] LoRA activations.
      const depth = g.int64s([lora.groups]);
      const values = g.weight('onehot_values', [2], { raw: new Uint8Array(new Float32Array([0, 1]).buffer) });
      const onehot = g.op('Unsqueeze', [g.op('OneHot', [moduleIds, depth, values], { axis: -1 }), g.int64s([1])]); // [b, 1, G]
      const seqShape = g.op('Concat', [g.int64s([1]), g.op('Shape', ['input_ids'], { start: 1, end: 2 }), g.int64s([1])], { axis: 0 });
      rowMask = g.op('Reshape', [g.op('Tile', [onehot, seqShape]), g.int64s([-1, lora.groups, 1])]);
    }
  }
  if (lora.kind === 'inputs') {
    for (let l = 0; l < dims.numLayers; l++) {
      for (const t of lora.config.targets) {
        const [i, o] = linearShape(dims, t);
        g.inputs.push({ name: loraInputName(l, t, 'A'), elemType: DataType.FLOAT, shape: [lora.config.rank, i] });
        g.inputs.push({ name: loraInputName(l, t, 'B'), elemType: DataType.FLOAT, shape: [o, lora.config.rank] });
      }
    }
  }

  const dtype = opts.weightDtype ?? 'float32';
  const ms = 'com.microsoft';
  /** x @ W for a stored linear of logical shape [i, o], per the package's dtype. */
  const matmul = (x: string, name: string, i: number, o: number): string => {
    const [stored, scale] = linearStorage(name, i, o, dtype);
    const weight = w(stored.name, stored.shape);
    switch (dtype) {
      case 'float32': return g.op('MatMul', [x, weight]);
      case 'float16': return g.op('MatMul', [x, g.op('Cast', [weight], { to: DataType.FLOAT })]);
      case 'int8': return g.op('DynamicQuantizeMatMul', [x, weight, w(scale.name, scale.shape)], undefined, ms);
      case 'int4':
        // accuracy_level 4: int8 activations against 4-bit weights (weight-storage.ts numbers).
        return g.op('MatMulNBits', [x, weight, w(scale.name, scale.shape)], { K: i, N: o, bits: 4, block_size: INT4_BLOCK, accuracy_level: 4 }, ms);
    }
  };
  const factor = (src: FactorSource, slot: number, layer: number, target: LoraTarget, which: 'A' | 'B'): string => {
    const [i, o] = linearShape(dims, target);
    const r = (lora as { config: LoraConfig }).config.rank;
    const shape = which === 'A' ? [r, i] : [o, r];
    const name = `lora.${slot}.layers.${layer}.${target}.${which}`;
    const data = src(slot, layer, target, which, shape);
    if (data) return g.weight(name, shape, data);
    // A missing module: zeros made in the graph (folded at load), not megabytes of inline bytes.
    return g.op('ConstantOfShape', [g.int64s(shape)], { value: floatInitializer('zero', [1], new Float32Array([0])) });
  };

  const linear = (x: string, layer: number, target: LoraTarget): string => {
    const [i, o] = linearShape(dims, target);
    if (lora.kind === 'folded' && lora.config.targets.includes(target)) {
      if (dtype !== 'float32' && dtype !== 'float16') throw new XalmaError('INTERNAL_ERROR', `a folded LoRA needs float weights, not ${dtype}`);
      const name = tensorNames.linear(layer, target);
      const stored = w(name, [i, o]);
      const base = dtype === 'float16' ? g.op('Cast', [stored], { to: DataType.FLOAT }) : stored;
      const a = factor(lora.factors, 0, layer, target, 'A');
      const b = factor(lora.factors, 0, layer, target, 'B');
      // (B @ A)^T = A^T @ B^T: [in, out], the layout of W.
      const delta = g.op('Gemm', [a, b], { transA: 1, transB: 1, alpha: { f: lora.config.scale } });
      return g.op('MatMul', [x, g.op('Add', [base, delta])]);
    }
    const y = matmul(x, tensorNames.linear(layer, target), i, o);
    if (lora.kind === 'none' || lora.kind === 'folded' || !lora.config.targets.includes(target)) return y;
    const scale = lora.config.scale;
    // Gemm is 2-D: fold [b, s, in] into [b*s, in] and unfold the delta to y's shape.
    const x2 = g.op('Reshape', [x, g.int64s([-1, i])]);
    let delta2: string;
    if (lora.kind === 'inputs') {
      const u = g.op('Gemm', [x2, loraInputName(layer, target, 'A')], { transB: 1 });
      delta2 = g.op('Gemm', [u, loraInputName(layer, target, 'B')], { transB: 1, alpha: { f: scale } });
    } else {
      const r = lora.config.rank;
      const slots = Array.from({ length: lora.groups }, (_, slot) => slot);
      if (lora.kernel === 'grouped') {
        const sorted = g.op('Gather', [x2, 'module_order'], { axis: 0 });
        const deltas = slots.map((slot) => {
          const rows = g.op('Slice', [sorted, bounds[slot], bounds[slot + 1], g.int64s([0])]);
          const u = g.op('Gemm', [rows, factor(lora.factors, slot, layer, target, 'A')], { transB: 1 });
          return g.op('Gemm', [u, factor(lora.factors, slot, layer, target, 'B')], { transB: 1, alpha: { f: scale } });
        });
        delta2 = g.op('Gather', [g.op('Concat', deltas, { axis: 0 }), 'module_inverse'], { axis: 0 });
        return g.op('Add', [y, g.op('Reshape', [delta2, g.op('Shape', [y])])]);
      }
      const as = slots.map((slot) => factor(lora.factors, slot, layer, target, 'A'));
      const bs = slots.map((slot) => factor(lora.factors, slot, layer, target, 'B'));
      // Stacked: A [G*r, in] (slot g owns rows g*r..), B [out, G*r] (columns g*r..); the gather
      // kernel views the same A bytes as [G, r, in] and stacks B as [G, out, r].
      const a = g.op('Concat', as, { axis: 0 });
      const b = lora.kernel === 'onehot'
        ? g.op('Concat', bs, { axis: 1 })
        : g.op('Concat', bs.map((f) => g.op('Unsqueeze', [f, g.int64s([0])])), { axis: 0 });
      if (lora.kernel === 'gather') {
        // [b, s, in] @ [b, in, r] @ [b, r, out]: batched matmuls over the rows' own factors.
        const a3 = g.op('Reshape', [a, g.int64s([lora.groups, r, i])]);
        const at = g.op('Transpose', [g.op('Gather', [a3, moduleIds], { axis: 0 })], { perm: [0, 2, 1] });
        const bt = g.op('Transpose', [g.op('Gather', [b, moduleIds], { axis: 0 })], { perm: [0, 2, 1] });
        const delta = g.op('MatMul', [g.op('MatMul', [x, at]), bt]);
        return g.op('Add', [y, g.op('Mul', [delta, g.floatScalar(scale)])]);
      }
      // All G modules' A in one GEMM [b*s, G*r]; each row keeps only its group's r columns.
      const u = g.op('Reshape', [g.op('Gemm', [x2, a], { transB: 1 }), g.int64s([-1, lora.groups, r])]);
      const masked = g.op('Reshape', [g.op('Mul', [u, rowMask]), g.int64s([-1, lora.groups * r])]);
      delta2 = g.op('Gemm', [masked, b], { transB: 1, alpha: { f: scale } });
    }
    return g.op('Add', [y, g.op('Reshape', [delta2, g.op('Shape', [y])])]);
  };

  const rmsNorm = (x: string, weightName: string): string => {
    const weight = w(weightName, [hidden]);
    if (opts.norm === 'contrib') {
      return g.op('SimplifiedLayerNormalization', [x, weight], { axis: -1, epsilon: { f: dims.rmsNormEps }, stash_type: 1 });
    }
    const ms = g.op('ReduceMean', [g.op('Mul', [x, x])], { axes: [-1], keepdims: 1 });
    const inv = g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [ms, g.floatScalar(dims.rmsNormEps)])])]);
    return g.op('Mul', [g.op('Mul', [x, inv]), weight]);
  };

  // RoPE tables gathered by position: [b, s, 1, hd] (cos, cos) and (-sin, sin) for rotate_half,
  // applied to [b, s, heads, hd] (before any transpose, so every KV layout shares it).
  const tables = ropeTables(dims);
  const cosT = g.weight('rope.cos', [dims.maxPositions, half], { raw: new Uint8Array(tables.cos.buffer) });
  const sinT = g.weight('rope.sin', [dims.maxPositions, half], { raw: new Uint8Array(tables.sin.buffer) });
  const cosP = g.op('Gather', [cosT, 'position_ids'], { axis: 0 });
  const sinP = g.op('Gather', [sinT, 'position_ids'], { axis: 0 });
  const cosFull = g.op('Unsqueeze', [g.op('Concat', [cosP, cosP], { axis: -1 }), g.int64s([2])]);
  const sinSigned = g.op('Unsqueeze', [g.op('Concat', [g.op('Neg', [sinP]), sinP], { axis: -1 }), g.int64s([2])]);
  const rope = (x: string): string => {
    const [x1, x2] = g.opN('Split', [x, g.int64s([half, half])], 2, { axis: -1 });
    const swapped = g.op('Concat', [x2, x1], { axis: -1 });
    return g.op('Add', [g.op('Mul', [x, cosFull]), g.op('Mul', [swapped, sinSigned])]);
  };
  const splitHeads = (v: string, n: number) => g.op('Reshape', [v, g.int64s([0, 0, n, hd])]); // [b, s, n, hd]
  const toBnsh = (v: string) => g.op('Transpose', [v], { perm: [0, 2, 1, 3] });
  const cacheInfo = (name: string) => ({ name, elemType: DataType.FLOAT, shape: ['batch_size', kvh, kv === 'concat' ? 'total_sequence_length' : 'sequence_length', hd] });

  let attention: (h: string, l: number) => string;
  if (gqa) {
    // GroupQueryAttention (com.microsoft) over the cache as an input (zero-copy from JavaScript),
    // attending over each row's own length. Its own present outputs stay inside the graph: it could
    // write the cache in place (past and present one buffer), but onnxruntime-node copies every
    // fetched output into a new ArrayBuffer, which made that O(capacity) per step and slower
    // (bench/results/continuous.md); the new keys and values are the outputs instead.
    const seqlensK = 'seqlens_k';
    const total = 'total_sequence_length';
    attention = (h, l) => {
      const q = g.op('Reshape', [rope(splitHeads(linear(h, l, 'q_proj'), nh)), g.int64s([0, 0, nh * hd])]);
      const k4 = rope(splitHeads(linear(h, l, 'k_proj'), kvh));
      const k = g.op('Reshape', [k4, g.int64s([0, 0, kvh * hd])]);
      const v = linear(h, l, 'v_proj');
      g.nodes.push({
        opType: 'GroupQueryAttention', domain: ms, name: `gqa_${l}`,
        inputs: [q, k, v, pastKeyName(l), pastValueName(l), seqlensK, total],
        outputs: [`gqa_${l}_out`, `gqa_${l}_present_key`, `gqa_${l}_present_value`],
        attributes: { num_heads: nh, kv_num_heads: kvh },
      });
      g.output(toBnsh(k4), cacheInfo(presentKeyName(l)));
      g.output(toBnsh(splitHeads(v, kvh)), cacheInfo(presentValueName(l)));
      return `gqa_${l}_out`;
    };
  } else {
    // Standard ops. Shapes: past length from the first layer's cache, sequence length from input_ids.
    const pastLen = g.op('Squeeze', [g.op('Shape', [pastKeyName(0)], { start: 2, end: 3 }), g.int64s([0])]);
    const seqLen = g.op('Squeeze', [g.op('Shape', ['input_ids'], { start: 1, end: 2 }), g.int64s([0])]);
    const totalLen = g.op('Add', [pastLen, seqLen]);
    // Attention bias [b, 1, s, T]: 0 where key t <= past + i and attention_mask[b, t] = 1, else -1e9
    // (finite, so a fully masked padding row gives a uniform softmax rather than NaN).
    const keyIdx = g.op('Range', [g.int64Scalar(0), totalLen, g.int64Scalar(1)]);
    const queryIdx = g.op('Unsqueeze', [g.op('Range', [pastLen, totalLen, g.int64Scalar(1)]), g.int64s([1])]);
    const causal = g.op('LessOrEqual', [keyIdx, queryIdx]); // [s, T]
    const padKeep = g.op('Unsqueeze', [g.op('Cast', ['attention_mask'], { to: DataType.BOOL }), g.int64s([1, 2])]);
    const allowed = g.op('And', [causal, padKeep]);
    const bias = g.op('Where', [allowed, g.floatScalar(0), g.floatScalar(-1e9)]);
    const qScale = g.floatScalar(1 / Math.sqrt(hd));
    attention = (h, l) => {
      // q [b, nh, s, hd] -> [b, kvh, g*s, hd]: query heads sharing a kv head become extra rows.
      const q = g.op('Reshape', [toBnsh(rope(splitHeads(g.op('Mul', [linear(h, l, 'q_proj'), qScale]), nh))), g.int64s([0, kvh, -1, hd])]);
      const kNew = toBnsh(rope(splitHeads(linear(h, l, 'k_proj'), kvh)));
      const vNew = toBnsh(splitHeads(linear(h, l, 'v_proj'), kvh));
      const k = g.op('Concat', [pastKeyName(l), kNew], { axis: 2 });
      const v = g.op('Concat', [pastValueName(l), vNew], { axis: 2 });
      g.output(kv === 'concat' ? k : kNew, cacheInfo(presentKeyName(l)));
      g.output(kv === 'concat' ? v : vNew, cacheInfo(presentValueName(l)));
      const scores = g.op('MatMul', [q, g.op('Transpose', [k], { perm: [0, 1, 3, 2] })]); // [b, kvh, g*s, T]
      const biased = g.op('Add', [g.op('Reshape', [scores, g.int64s([0, nh, -1, 0])]), bias]); // [b, nh, s, T]
      const probs = g.op('Reshape', [g.op('Softmax', [biased], { axis: -1 }), g.int64s([0, kvh, -1, 0])]);
      const ctx = g.op('Reshape', [g.op('MatMul', [probs, v]), g.int64s([0, nh, -1, hd])]); // [b, nh, s, hd]
      return g.op('Reshape', [g.op('Transpose', [ctx], { perm: [0, 2, 1, 3] }), g.int64s([0, 0, nh * hd])]);
    };
  }

  let x = g.op('Gather', [w(tensorNames.embed, [dims.vocabSize, hidden]), 'input_ids'], { axis: 0 });
  for (let l = 0; l < dims.numLayers; l++) {
    const h = rmsNorm(x, tensorNames.inputNorm(l));
    const attnOut = g.op('Add', [x, linear(attention(h, l), l, 'o_proj')]);
    const m = rmsNorm(attnOut, tensorNames.postAttnNorm(l));
    const gate = linear(m, l, 'gate_proj');
    const act = g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), linear(m, l, 'up_proj')]);
    x = g.op('Add', [attnOut, linear(act, l, 'down_proj')]);
  }
  if (opts.logits === 'index') {
    // One position per row: [b, s, hidden] -> [b*s, hidden] -> rows logits_index -> [b, 1, hidden].
    x = g.op('Unsqueeze', [g.op('Gather', [g.op('Reshape', [x, g.int64s([-1, hidden])]), 'logits_index'], { axis: 0 }), g.int64s([1])]);
  }
  if (opts.logits === 'last') {
    // Left-padded batches end every row at the last position.
    x = g.op('Gather', [x, g.int64s([-1])], { axis: 1 });
  }
  const normed = rmsNorm(x, tensorNames.finalNorm);
  const logits = matmul(normed, tensorNames.lmHead, hidden, dims.vocabSize);
  g.output(logits, { name: 'logits', elemType: DataType.FLOAT, shape: ['batch_size', opts.logits === 'all' ? 'sequence_length' : 1, dims.vocabSize] });

  return encodeModel({
    irVersion: IR_VERSION,
    opsets: [{ domain: '', version: OPSET }, { domain: ms, version: 1 }],
    producerName: 'xalma-serve',
    graph: { name: 'xalma_decoder', nodes: g.nodes, initializers: g.initializers, inputs: g.inputs, outputs: g.outputs },
  });
}

export { LORA_TARGETS };
