/**
 * Plain-TypeScript reference forward pass of the LLaMA-2 decoder, for tests only.
 *
 * Deliberately naive: explicit loops, float64 arithmetic, one batch row at a time, LoRA
 * applied as its own product (y = x @ W + scale * ((x @ A^T) @ B^T)) rather than by merging,
 * so it shares no arithmetic with src/model/merge.ts or the ONNX graph it checks.
 * Tensor names and layouts come from src/model/architecture.ts ([in, out] weights,
 * LoRA A [r, in], B [out, r]).
 *
 * Semantics (the ONNX graph follows the same):
 * - x = embed[token]; per layer: h = x + o_proj(attn(rmsnorm(x)));
 *   x = h + down(silu(gate(rmsnorm(h))) * up(rmsnorm(h))); logits = lm_head(rmsnorm(x)).
 * - RMSNorm: x / sqrt(mean(x^2) + eps) * w.
 * - RoPE, Hugging Face "rotate_half": inv_freq[j] = theta^(-2j/headDim), angle = pos*inv_freq[j],
 *   out[j] = x[j]cos - x[j+half]sin, out[j+half] = x[j+half]cos + x[j]sin; on q and k, before k
 *   is cached.
 * - Grouped-query attention: query head h reads kv head floor(h / (numHeads / numKvHeads)).
 * - Scores / sqrt(headDim); key t visible to query i (absolute past+i) iff t <= past+i and
 *   attentionMask[b][t] == 1; a hidden score is replaced by -1e9 (finite, so a fully hidden
 *   row is a uniform softmax, not NaN).
 * - KV cache layout per layer: [batch, numKvHeads, length, headDim].
 */
import { linearShape, tensorNames } from '../../src/model/architecture.ts';
import type { LlamaDims, LoraConfig, LoraTarget } from '../../src/model/architecture.ts';

export interface RefTensor {
  shape: number[];
  data: Float32Array;
}

export type RefWeights = ReadonlyMap<string, RefTensor>;

export interface KvPair {
  /** [batch, numKvHeads, length, headDim] */
  key: Float32Array;
  value: Float32Array;
}

export interface ReferenceForwardInput {
  weights: RefWeights;
  dims: LlamaDims;
  /** Required when any row has a module. */
  lora?: LoraConfig;
  /** One LoRA module (A/B tensors) or null per batch row; omitted = no LoRA anywhere. */
  modules?: ReadonlyArray<RefWeights | null>;
  /** [batch][seq] */
  inputIds: number[][];
  /** [batch][pastLength + seq] */
  attentionMask: number[][];
  /** [batch][seq] */
  positionIds: number[][];
  /** One entry per layer, [batch, numKvHeads, pastLength, headDim]. */
  past?: ReadonlyArray<KvPair>;
  pastLength?: number;
}

export interface ReferenceForwardOutput {
  /** [batch, seq, vocab] */
  logits: Float32Array;
  /** One entry per layer, [batch, numKvHeads, pastLength + seq, headDim]. */
  present: KvPair[];
  batch: number;
  seqLen: number;
  totalLength: number;
}

const MASKED_SCORE = -1e9;

/**
 * Deterministic pseudo-random tensors (mulberry32), uniform in [-scale, scale); norm weights
 * (1-D) are drawn around 1 so activations keep a sensible size through the layers.
 */
export function randomTensors(shapes: ReadonlyArray<[string, number[]]>, seed: number, scale = 0.2): Map<string, RefTensor> {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Map<string, RefTensor>();
  for (const [name, shape] of shapes) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    const isNorm = shape.length === 1;
    for (let i = 0; i < data.length; i++) data[i] = isNorm ? 1 + (next() - 0.5) * 0.2 : (next() * 2 - 1) * scale;
    out.set(name, { shape: [...shape], data });
  }
  return out;
}

function get(weights: RefWeights, name: string, shape: number[]): Float32Array {
  const t = weights.get(name);
  if (!t) throw new Error(`reference: tensor ${name} is missing`);
  const n = shape.reduce((a, b) => a * b, 1);
  if (t.data.length !== n || t.shape.join(',') !== shape.join(',')) {
    throw new Error(`reference: tensor ${name} has shape [${t.shape}], expected [${shape}]`);
  }
  return t.data;
}

/** x: rows of length `inDim` (float64); returns rows of length `outDim`. */
function linear(
  x: Float64Array[],
  weights: RefWeights,
  module: RefWeights | null,
  lora: LoraConfig | undefined,
  dims: LlamaDims,
  layer: number,
  target: LoraTarget,
): Float64Array[] {
  const [inDim, outDim] = linearShape(dims, target);
  const w = get(weights, tensorNames.linear(layer, target), [inDim, outDim]);
  const useLora = module !== null && lora !== undefined && lora.targets.includes(target);
  const r = lora?.rank ?? 0;
  const a = useLora ? get(module, tensorNames.loraA(layer, target), [r, inDim]) : null;
  const b = useLora ? get(module, tensorNames.loraB(layer, target), [outDim, r]) : null;
  return x.map((row) => {
    const y = new Float64Array(outDim);
    for (let o = 0; o < outDim; o++) {
      let s = 0;
      for (let i = 0; i < inDim; i++) s += row[i] * w[i * outDim + o];
      y[o] = s;
    }
    if (a && b && lora) {
      // u = x @ A^T  [r];  y += scale * u @ B^T  [out]
      const u = new Float64Array(r);
      for (let k = 0; k < r; k++) {
        let s = 0;
        for (let i = 0; i < inDim; i++) s += row[i] * a[k * inDim + i];
        u[k] = s;
      }
      for (let o = 0; o < outDim; o++) {
        let s = 0;
        for (let k = 0; k < r; k++) s += u[k] * b[o * r + k];
        y[o] += lora.scale * s;
      }
    }
    return y;
  });
}

function rmsNorm(x: Float64Array[], w: Float32Array, eps: number): Float64Array[] {
  return x.map((row) => {
    let ss = 0;
    for (const v of row) ss += v * v;
    const inv = 1 / Math.sqrt(ss / row.length + eps);
    const out = new Float64Array(row.length);
    for (let i = 0; i < row.length; i++) out[i] = row[i] * inv * w[i];
    return out;
  });
}

/** In place on every head of one token row laid out [heads, headDim]. */
function rope(row: Float64Array, heads: number, headDim: number, pos: number, theta: number): void {
  const half = headDim / 2;
  for (let h = 0; h < heads; h++) {
    const base = h * headDim;
    for (let j = 0; j < half; j++) {
      const invFreq = Math.pow(theta, (-2 * j) / headDim);
      const angle = pos * invFreq;
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      const x1 = row[base + j];
      const x2 = row[base + j + half];
      row[base + j] = x1 * c - x2 * s;
      row[base + j + half] = x2 * c + x1 * s;
    }
  }
}

function silu(v: number): number {
  return v / (1 + Math.exp(-v));
}

export function referenceForward(input: ReferenceForwardInput): ReferenceForwardOutput {
  const { weights, dims, lora, inputIds, attentionMask, positionIds } = input;
  const batch = inputIds.length;
  const seqLen = batch > 0 ? inputIds[0].length : 0;
  const pastLength = input.pastLength ?? 0;
  const totalLength = pastLength + seqLen;
  const { hiddenSize: hidden, vocabSize: vocab, numHeads, numKvHeads, headDim, numLayers } = dims;
  const groupSize = numHeads / numKvHeads;
  if (!Number.isInteger(groupSize)) throw new Error('reference: numHeads must be a multiple of numKvHeads');
  if (pastLength > 0 && (!input.past || input.past.length !== numLayers)) {
    throw new Error('reference: pastLength > 0 needs one past entry per layer');
  }
  for (let b = 0; b < batch; b++) {
    if (inputIds[b].length !== seqLen || positionIds[b].length !== seqLen) throw new Error(`reference: row ${b} has a ragged length`);
    if (attentionMask[b].length !== totalLength) throw new Error(`reference: row ${b} mask length must be pastLength + seq`);
  }
  if (input.modules && input.modules.length !== batch) throw new Error('reference: one module entry per batch row');
  if (input.modules?.some((m) => m !== null) && !lora) throw new Error('reference: modules need a LoRA config');

  const embed = get(weights, tensorNames.embed, [vocab, hidden]);
  const finalNorm = get(weights, tensorNames.finalNorm, [hidden]);
  const lmHead = get(weights, tensorNames.lmHead, [hidden, vocab]);
  const kvRow = numKvHeads * totalLength * headDim; // one batch row of one present tensor
  const present: KvPair[] = Array.from({ length: numLayers }, () => ({
    key: new Float32Array(batch * kvRow),
    value: new Float32Array(batch * kvRow),
  }));
  const logits = new Float32Array(batch * seqLen * vocab);
  const scoreScale = 1 / Math.sqrt(headDim);

  for (let b = 0; b < batch; b++) {
    const module = input.modules?.[b] ?? null;
    let x: Float64Array[] = inputIds[b].map((tok) => {
      if (!Number.isInteger(tok) || tok < 0 || tok >= vocab) throw new Error(`reference: token ${tok} out of range`);
      return Float64Array.from(embed.subarray(tok * hidden, (tok + 1) * hidden));
    });

    for (let l = 0; l < numLayers; l++) {
      // --- attention ---
      const xn = rmsNorm(x, get(weights, tensorNames.inputNorm(l), [hidden]), dims.rmsNormEps);
      const q = linear(xn, weights, module, lora, dims, l, 'q_proj');
      const k = linear(xn, weights, module, lora, dims, l, 'k_proj');
      const v = linear(xn, weights, module, lora, dims, l, 'v_proj');
      for (let i = 0; i < seqLen; i++) {
        rope(q[i], numHeads, headDim, positionIds[b][i], dims.ropeTheta);
        rope(k[i], numKvHeads, headDim, positionIds[b][i], dims.ropeTheta);
      }

      // present[b] = concat(past[b], new k/v) along the length axis
      const { key: pk, value: pv } = present[l];
      for (let kh = 0; kh < numKvHeads; kh++) {
        for (let t = 0; t < totalLength; t++) {
          const dst = b * kvRow + (kh * totalLength + t) * headDim;
          for (let d = 0; d < headDim; d++) {
            if (t < pastLength) {
              const src = ((b * numKvHeads + kh) * pastLength + t) * headDim + d;
              pk[dst + d] = input.past![l].key[src];
              pv[dst + d] = input.past![l].value[src];
            } else {
              pk[dst + d] = k[t - pastLength][kh * headDim + d];
              pv[dst + d] = v[t - pastLength][kh * headDim + d];
            }
          }
        }
      }

      const attn: Float64Array[] = [];
      for (let i = 0; i < seqLen; i++) {
        const out = new Float64Array(numHeads * headDim);
        for (let h = 0; h < numHeads; h++) {
          const kh = Math.floor(h / groupSize);
          const scores = new Float64Array(totalLength);
          for (let t = 0; t < totalLength; t++) {
            const visible = t <= pastLength + i && attentionMask[b][t] === 1;
            if (!visible) {
              scores[t] = MASKED_SCORE;
              continue;
            }
            const kBase = b * kvRow + (kh * totalLength + t) * headDim;
            let s = 0;
            for (let d = 0; d < headDim; d++) s += q[i][h * headDim + d] * pk[kBase + d];
            scores[t] = s * scoreScale;
          }
          let max = -Infinity;
          for (const s of scores) max = Math.max(max, s);
          let sum = 0;
          for (let t = 0; t < totalLength; t++) {
            scores[t] = Math.exp(scores[t] - max);
            sum += scores[t];
          }
          for (let t = 0; t < totalLength; t++) {
            const p = scores[t] / sum;
            const vBase = b * kvRow + (kh * totalLength + t) * headDim;
            for (let d = 0; d < headDim; d++) out[h * headDim + d] += p * pv[vBase + d];
          }
        }
        attn.push(out);
      }
      const o = linear(attn, weights, module, lora, dims, l, 'o_proj');
      const h = x.map((row, i) => row.map((val, j) => val + o[i][j]));

      // --- MLP ---
      const hn = rmsNorm(h, get(weights, tensorNames.postAttnNorm(l), [hidden]), dims.rmsNormEps);
      const gate = linear(hn, weights, module, lora, dims, l, 'gate_proj');
      const up = linear(hn, weights, module, lora, dims, l, 'up_proj');
      const act = gate.map((row, i) => row.map((g, j) => silu(g) * up[i][j]));
      const down = linear(act, weights, module, lora, dims, l, 'down_proj');
      x = h.map((row, i) => row.map((val, j) => val + down[i][j]));
    }

    const xn = rmsNorm(x, finalNorm, dims.rmsNormEps);
    for (let i = 0; i < seqLen; i++) {
      const base = (b * seqLen + i) * vocab;
      for (let vIdx = 0; vIdx < vocab; vIdx++) {
        let s = 0;
        for (let j = 0; j < hidden; j++) s += xn[i][j] * lmHead[j * vocab + vIdx];
        logits[base + vIdx] = s;
      }
    }
  }
  return { logits, present, batch, seqLen, totalLength };
}
