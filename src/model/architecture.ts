/**
 * The X-ALMA (LLaMA-2) architecture as this project stores it: dimensions, tensor names and
 * layouts. Every other module (graph builder, reference forward pass, merging, importers)
 * takes names and shapes from here, so the layout is defined once.
 *
 * Layout convention: linear weights are stored "ONNX-ready", transposed from Hugging Face:
 *   `<name>.weight` has shape [in, out], so y = x @ W.
 * LoRA factors are stored as PEFT does: A [r, in], B [out, r]; W' = W + scale * (B @ A)^T in
 * our [in, out] layout, i.e. W'[i][o] = W[i][o] + scale * sum_k B[o][k] * A[k][i].
 */
export interface LlamaDims {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  maxPositions: number;
  rmsNormEps: number;
  ropeTheta: number;
}

export const LORA_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;
export type LoraTarget = (typeof LORA_TARGETS)[number];

export interface LoraConfig {
  rank: number;
  /** lora_alpha / r; the reference uses 1024 / 512 = 2. */
  scale: number;
  targets: readonly LoraTarget[];
}

/** [in, out] of each linear layer of a block. */
export function linearShape(dims: LlamaDims, target: LoraTarget): [number, number] {
  const h = dims.hiddenSize;
  const q = dims.numHeads * dims.headDim;
  const kv = dims.numKvHeads * dims.headDim;
  switch (target) {
    case 'q_proj': return [h, q];
    case 'k_proj': return [h, kv];
    case 'v_proj': return [h, kv];
    case 'o_proj': return [q, h];
    case 'gate_proj': return [h, dims.intermediateSize];
    case 'up_proj': return [h, dims.intermediateSize];
    case 'down_proj': return [dims.intermediateSize, h];
  }
}

export const tensorNames = {
  embed: 'embed_tokens.weight', // [vocab, hidden]
  finalNorm: 'norm.weight', // [hidden]
  lmHead: 'lm_head.weight', // [hidden, vocab]
  inputNorm: (layer: number) => `layers.${layer}.input_layernorm.weight`, // [hidden]
  postAttnNorm: (layer: number) => `layers.${layer}.post_attention_layernorm.weight`, // [hidden]
  linear: (layer: number, target: LoraTarget) => `layers.${layer}.${target}.weight`, // [in, out]
  loraA: (layer: number, target: LoraTarget) => `layers.${layer}.${target}.lora_A`, // [r, in]
  loraB: (layer: number, target: LoraTarget) => `layers.${layer}.${target}.lora_B`, // [out, r]
};

/** Every base tensor with its shape, in a stable order. */
export function baseTensorShapes(dims: LlamaDims): Array<[string, number[]]> {
  const out: Array<[string, number[]]> = [[tensorNames.embed, [dims.vocabSize, dims.hiddenSize]]];
  for (let l = 0; l < dims.numLayers; l++) {
    out.push([tensorNames.inputNorm(l), [dims.hiddenSize]]);
    for (const t of LORA_TARGETS) out.push([tensorNames.linear(l, t), linearShape(dims, t)]);
    out.push([tensorNames.postAttnNorm(l), [dims.hiddenSize]]);
  }
  out.push([tensorNames.finalNorm, [dims.hiddenSize]]);
  out.push([tensorNames.lmHead, [dims.hiddenSize, dims.vocabSize]]);
  return out;
}

/** Every tensor of one LoRA module with its shape (A [r, in], B [out, r]). */
export function loraTensorShapes(dims: LlamaDims, lora: LoraConfig): Array<[string, number[]]> {
  const out: Array<[string, number[]]> = [];
  for (let l = 0; l < dims.numLayers; l++) {
    for (const t of lora.targets) {
      const [i, o] = linearShape(dims, t);
      out.push([tensorNames.loraA(l, t), [lora.rank, i]]);
      out.push([tensorNames.loraB(l, t), [o, lora.rank]]);
    }
  }
  return out;
}
