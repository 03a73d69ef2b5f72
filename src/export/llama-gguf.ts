/**
 * A model package as llama.cpp runs it: a llama-architecture GGUF of the base (with one group's
 * LoRA merged into the weights, or not), and a GGUF LoRA adapter of a group.
 *
 * Conversions from the package (architecture.ts layout) to what llama.cpp's `llama` arch reads:
 *   - linears are stored [in, out]; GGUF wants HF's W [out, in] row-major (ne = [in, out]):
 *     decodeLinear gives exactly that for every package dtype (quantized ones dequantized);
 *   - q_proj and k_proj rows are permuted from HF's rotate-half RoPE layout to the interleaved
 *     pairs llama.cpp rotates (convert_hf_to_gguf.py `permute`: reshape(n_head, 2, head_dim/2,
 *     in).swapaxes(1, 2)), with n_head = the KV head count for k; the same permutation applies
 *     to the rows of lora_B of q and k, since B's rows are the layer's outputs;
 *   - LoRA A [r, in] and B [out, r] are written as they are (ne [in, r] and [r, out]), with
 *     adapter.lora.alpha = scale * rank (llama.cpp scales by alpha / rank).
 * Embeddings and norms stay F32 (F16 in an f16 export); the 7 projections and the output head
 * take the export dtype, as our int8/int4 packages quantize exactly those.
 */
import { readFile } from 'node:fs/promises';
import { LORA_TARGETS, linearShape, tensorNames, type LlamaDims, type LoraTarget } from '../model/architecture.ts';
import { loadModelPackage, type ModelPackage } from '../model/package.ts';
import { floatView, openSafetensors, readSafetensors, readTensorBytes, type F32Tensor } from '../model/safetensors.ts';
import { decodeLinear, linearStorage } from '../model/weight-storage.ts';
import { encodeTensor, GgmlType, QK } from './ggml-quants.ts';
import { ggufVocab } from './gguf-vocab.ts';
import { writeGguf, type GgufTensorSpec, type GgufValue } from './gguf-writer.ts';

export type GgufDtype = 'f32' | 'f16' | 'q8_0' | 'q4_0';
export const GGUF_DTYPES: readonly GgufDtype[] = ['f32', 'f16', 'q8_0', 'q4_0'];

const LINEAR_TYPE: Record<GgufDtype, GgmlType> = { f32: GgmlType.F32, f16: GgmlType.F16, q8_0: GgmlType.Q8_0, q4_0: GgmlType.Q4_0 };
/** llama_ftype: ALL_F32 0, MOSTLY_F16 1, MOSTLY_Q4_0 2, MOSTLY_Q8_0 7. */
const FILE_TYPE: Record<GgufDtype, number> = { f32: 0, f16: 1, q8_0: 7, q4_0: 2 };

/** GGUF names of the llama arch, by our target names. */
const GGUF_LINEAR: Record<LoraTarget, string> = {
  q_proj: 'attn_q', k_proj: 'attn_k', v_proj: 'attn_v', o_proj: 'attn_output', gate_proj: 'ffn_gate', up_proj: 'ffn_up', down_proj: 'ffn_down',
};
export const ggufLinearName = (layer: number, target: LoraTarget) => `blk.${layer}.${GGUF_LINEAR[target]}.weight`;

export interface ExportGgufOptions {
  modelDir: string;
  group: number;
  /** true: group's LoRA merged into the weights (one file); false: base + adapter file. */
  merged: boolean;
  dtype: GgufDtype;
  out: string;
}

export interface ExportGgufResult {
  model: { path: string; bytes: number };
  adapter?: { path: string; bytes: number };
}

/** Where the adapter of `out` goes: `x.gguf` -> `x.lora-group3.gguf`, beside it. */
export function adapterPathFor(out: string, group: number): string {
  return `${out.replace(/\.gguf$/i, '')}.lora-group${group}.gguf`;
}

/**
 * Rows of an [out, in] matrix reordered for llama.cpp's RoPE: within each head of `headDim`
 * rows, row (s * headDim/2 + j) moves to (2j + s). `w` may be any [rows, cols] row-major.
 */
export function permuteRope(w: Float32Array, rows: number, cols: number, heads: number): Float32Array {
  const headDim = rows / heads;
  const halfDim = headDim / 2;
  if (!Number.isInteger(halfDim)) throw new Error(`permuteRope: ${rows} rows do not split into ${heads} heads of even size`);
  const out = new Float32Array(w.length);
  for (let h = 0; h < heads; h++) {
    for (let s = 0; s < 2; s++) {
      for (let j = 0; j < halfDim; j++) {
        const src = (h * headDim + s * halfDim + j) * cols;
        const dst = (h * headDim + 2 * j + s) * cols;
        out.set(w.subarray(src, src + cols), dst);
      }
    }
  }
  return out;
}

/** Heads whose rows a projection's outputs are, when RoPE applies to it. */
function ropeHeads(dims: LlamaDims, target: LoraTarget): number | null {
  if (target === 'q_proj') return dims.numHeads;
  if (target === 'k_proj') return dims.numKvHeads;
  return null;
}

/** W [out, in] += scale * B [out, r] @ A [r, in], in place. */
function mergeInto(w: Float32Array, a: Float32Array, b: Float32Array, inDim: number, outDim: number, rank: number, scale: number): void {
  for (let o = 0; o < outDim; o++) {
    const row = o * inDim;
    for (let k = 0; k < rank; k++) {
      const c = scale * b[o * rank + k];
      const aRow = k * inDim;
      for (let i = 0; i < inDim; i++) w[row + i] += c * a[aRow + i];
    }
  }
}

function llamaMetadata(pkg: ModelPackage, name: string): Map<string, GgufValue> {
  const d = pkg.manifest.dims;
  return new Map<string, GgufValue>([
    ['general.architecture', { type: 'string', value: 'llama' }],
    ['general.name', { type: 'string', value: name }],
    ['llama.context_length', { type: 'u32', value: d.maxPositions }],
    ['llama.embedding_length', { type: 'u32', value: d.hiddenSize }],
    ['llama.block_count', { type: 'u32', value: d.numLayers }],
    ['llama.feed_forward_length', { type: 'u32', value: d.intermediateSize }],
    ['llama.rope.dimension_count', { type: 'u32', value: d.headDim }],
    ['llama.attention.head_count', { type: 'u32', value: d.numHeads }],
    ['llama.attention.head_count_kv', { type: 'u32', value: d.numKvHeads }],
    ['llama.attention.key_length', { type: 'u32', value: d.headDim }],
    ['llama.attention.value_length', { type: 'u32', value: d.headDim }],
    ['llama.attention.layer_norm_rms_epsilon', { type: 'f32', value: d.rmsNormEps }],
    ['llama.rope.freq_base', { type: 'f32', value: d.ropeTheta }],
    ['llama.vocab_size', { type: 'u32', value: d.vocabSize }],
  ]);
}

async function tokenizerMetadata(pkg: ModelPackage): Promise<Map<string, GgufValue>> {
  const { tokenizer, dims } = pkg.manifest;
  const vocab = ggufVocab(JSON.parse(await readFile(pkg.tokenizerPath, 'utf8')) as object, dims.vocabSize);
  const unk = vocab.tokenTypes.indexOf(2);
  return new Map<string, GgufValue>([
    ['tokenizer.ggml.model', { type: 'string', value: 'llama' }],
    ['tokenizer.ggml.tokens', { type: 'string[]', value: vocab.tokens }],
    ['tokenizer.ggml.scores', { type: 'f32[]', value: vocab.scores }],
    ['tokenizer.ggml.token_type', { type: 'i32[]', value: vocab.tokenTypes }],
    ['tokenizer.ggml.bos_token_id', { type: 'u32', value: tokenizer.bosId }],
    ['tokenizer.ggml.eos_token_id', { type: 'u32', value: tokenizer.eosId }],
    ['tokenizer.ggml.unknown_token_id', { type: 'u32', value: unk >= 0 ? unk : 0 }],
    ['tokenizer.ggml.padding_token_id', { type: 'u32', value: tokenizer.padId }],
    ['tokenizer.ggml.add_bos_token', { type: 'bool', value: true }],
    ['tokenizer.ggml.add_eos_token', { type: 'bool', value: false }],
  ]);
}

/** The linear's type in the export: a block type needs whole blocks along `in`, else F16 keeps it close. */
function linearType(dtype: GgufDtype, inDim: number): GgmlType {
  const t = LINEAR_TYPE[dtype];
  return (t === GgmlType.Q8_0 || t === GgmlType.Q4_0) && inDim % QK !== 0 ? GgmlType.F16 : t;
}

async function exportModel(pkg: ModelPackage, opts: ExportGgufOptions): Promise<number> {
  const { dims, lora, dtype: stored } = pkg.manifest;
  const module = opts.merged ? await readSafetensors(pkg.modulePath(opts.group)) : null;
  const { fh, header } = await openSafetensors(pkg.weightsPath);
  try {
    const floatTensor = async (name: string): Promise<Float32Array> => {
      const e = header.tensors.get(name)!;
      return floatView(pkg.weightsPath, name, e, await readTensorBytes(fh, e));
    };
    const linearWeight = async (name: string, inDim: number, outDim: number): Promise<Float32Array> => {
      const parts = [];
      for (const s of linearStorage(name, inDim, outDim, stored)) parts.push(await readTensorBytes(fh, header.tensors.get(s.name)!));
      return decodeLinear(parts, outDim, inDim, stored);
    };
    const smallType = opts.dtype === 'f16' ? GgmlType.F16 : GgmlType.F32;
    const tensors: GgufTensorSpec[] = [
      { name: 'token_embd.weight', ne: [dims.hiddenSize, dims.vocabSize], type: smallType, data: async () => encodeTensor(await floatTensor(tensorNames.embed), smallType) },
    ];
    for (let l = 0; l < dims.numLayers; l++) {
      tensors.push({ name: `blk.${l}.attn_norm.weight`, ne: [dims.hiddenSize], type: GgmlType.F32, data: async () => encodeTensor(await floatTensor(tensorNames.inputNorm(l)), GgmlType.F32) });
      for (const target of LORA_TARGETS) {
        const [inDim, outDim] = linearShape(dims, target);
        const type = linearType(opts.dtype, inDim);
        tensors.push({
          name: ggufLinearName(l, target), ne: [inDim, outDim], type,
          data: async () => {
            let w = await linearWeight(tensorNames.linear(l, target), inDim, outDim);
            if (module && lora.targets.includes(target)) {
              const a = module.get(tensorNames.loraA(l, target)) as F32Tensor;
              const b = module.get(tensorNames.loraB(l, target)) as F32Tensor;
              mergeInto(w, a.data, b.data, inDim, outDim, lora.rank, lora.scale);
            }
            const heads = ropeHeads(dims, target);
            if (heads !== null) w = permuteRope(w, outDim, inDim, heads);
            return encodeTensor(w, type);
          },
        });
      }
      tensors.push({ name: `blk.${l}.ffn_norm.weight`, ne: [dims.hiddenSize], type: GgmlType.F32, data: async () => encodeTensor(await floatTensor(tensorNames.postAttnNorm(l)), GgmlType.F32) });
    }
    tensors.push({ name: 'output_norm.weight', ne: [dims.hiddenSize], type: GgmlType.F32, data: async () => encodeTensor(await floatTensor(tensorNames.finalNorm), GgmlType.F32) });
    const headType = linearType(opts.dtype, dims.hiddenSize);
    tensors.push({ name: 'output.weight', ne: [dims.hiddenSize, dims.vocabSize], type: headType, data: async () => encodeTensor(await linearWeight(tensorNames.lmHead, dims.hiddenSize, dims.vocabSize), headType) });

    const name = `${pkg.manifest.name}${opts.merged ? `-group${opts.group}-merged` : ''}`;
    const metadata = llamaMetadata(pkg, name);
    metadata.set('general.file_type', { type: 'u32', value: FILE_TYPE[opts.dtype] });
    metadata.set('general.quantization_version', { type: 'u32', value: 2 });
    for (const [k, v] of await tokenizerMetadata(pkg)) metadata.set(k, v);
    return await writeGguf(opts.out, metadata, tensors);
  } finally {
    await fh.close();
  }
}

async function exportAdapter(pkg: ModelPackage, group: number, path: string): Promise<number> {
  const { dims, lora } = pkg.manifest;
  const module = await readSafetensors(pkg.modulePath(group));
  const tensors: GgufTensorSpec[] = [];
  for (let l = 0; l < dims.numLayers; l++) {
    for (const target of lora.targets) {
      const [inDim, outDim] = linearShape(dims, target);
      const a = module.get(tensorNames.loraA(l, target))!.data;
      const b = module.get(tensorNames.loraB(l, target))!.data;
      const heads = ropeHeads(dims, target);
      const base = ggufLinearName(l, target);
      tensors.push({ name: `${base}.lora_a`, ne: [inDim, lora.rank], type: GgmlType.F32, data: () => encodeTensor(a, GgmlType.F32) });
      tensors.push({ name: `${base}.lora_b`, ne: [lora.rank, outDim], type: GgmlType.F32, data: () => encodeTensor(heads === null ? b : permuteRope(b, outDim, lora.rank, heads), GgmlType.F32) });
    }
  }
  const metadata = llamaMetadata(pkg, `${pkg.manifest.name}-group${group}-lora`);
  metadata.set('general.type', { type: 'string', value: 'adapter' });
  metadata.set('adapter.type', { type: 'string', value: 'lora' });
  metadata.set('adapter.lora.alpha', { type: 'f32', value: lora.scale * lora.rank });
  return writeGguf(path, metadata, tensors);
}

async function packageWithGroup(modelDir: string, group: number): Promise<ModelPackage> {
  const pkg = await loadModelPackage(modelDir, { verifyChecksums: false });
  if (!pkg.manifest.groups.some((g) => g.id === group)) {
    throw new Error(`export-gguf: group ${group} is not in ${modelDir} (groups ${pkg.manifest.groups.map((g) => g.id).join(', ')})`);
  }
  return pkg;
}

/** Only the LoRA adapter GGUF of a group (for a base already exported), at `out`. */
export async function exportAdapterGguf(opts: { modelDir: string; group: number; out: string }): Promise<{ path: string; bytes: number }> {
  const pkg = await packageWithGroup(opts.modelDir, opts.group);
  return { path: opts.out, bytes: await exportAdapter(pkg, opts.group, opts.out) };
}

/** Writes the GGUF(s) for one group of a package. */
export async function exportGguf(opts: ExportGgufOptions): Promise<ExportGgufResult> {
  const pkg = await packageWithGroup(opts.modelDir, opts.group);
  const result: ExportGgufResult = { model: { path: opts.out, bytes: await exportModel(pkg, opts) } };
  if (!opts.merged) {
    const path = adapterPathFor(opts.out, opts.group);
    result.adapter = { path, bytes: await exportAdapter(pkg, opts.group, path) };
  }
  return result;
}
