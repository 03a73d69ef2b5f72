/**
 * Weight storage of the linear layers (and lm_head) in a package, per `dtype`:
 *   float32  F32 [in, out]                       MatMul
 *   float16  F16 [in, out]                       Cast to float, then MatMul (halves the disk; ORT
 *                                                folds the Cast at load, so RAM is as float32)
 *   int8     I8 [in, out] + F32 scale [out]      com.microsoft DynamicQuantizeMatMul: symmetric,
 *                                                one scale per output column
 *   int4     U8 [out, in/bs, bs/2] + F32 scale   com.microsoft MatMulNBits (bits 4): symmetric
 *            [out * in/bs]                       blocks of `bs` along in, two codes per byte,
 *                                                low nibble first, zero point 8 (the op's default)
 *
 * Kernel choice measured on this machine (2-core EPYC, ORT 1.30, one [768 -> 2048] linear,
 * median of 50 runs; bench/quant-ops.ts): batch 32: fp32 MatMul 0.86 ms, DynamicQuantizeMatMul
 * 0.34 ms, MatMulNBits 8-bit 4.96 ms (1.15 ms with accuracy_level 4), MatMulNBits 4-bit
 * 1.47 ms (1.04 ms with accuracy_level 4). So int8 uses DynamicQuantizeMatMul and int4 uses
 * MatMulNBits with accuracy_level 4 (int8 activations); 4-bit wins on memory, not on small
 * GEMMs that fit in cache.
 *
 * Inputs and outputs here are Hugging Face's layout, W [out, in] (row o = output o).
 */
import { LORA_TARGETS, baseTensorShapes as baseTensorShapesOf, linearShape, tensorNames, type LlamaDims, type LoraTarget } from './architecture.ts';
import { f16ToF32, f32ToF16 } from './half.ts';
import type { SafetensorsDtype } from './safetensors.ts';

export type WeightDtype = 'float32' | 'float16' | 'int8' | 'int4';
export const WEIGHT_DTYPES: readonly WeightDtype[] = ['float32', 'float16', 'int8', 'int4'];

/** int4 block along the input axis: 32 as llama.cpp's Q4_0 and ORT's default quantizer. */
export const INT4_BLOCK = 32;

export interface StoredTensor {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
}

/** Name of the scale tensor beside a quantized weight. */
export const scaleName = (weight: string) => `${weight}_scale`;

/** The tensors a linear weight of logical shape [in, out] is stored as. */
export function linearStorage(name: string, inDim: number, outDim: number, dtype: WeightDtype): StoredTensor[] {
  switch (dtype) {
    case 'float32': return [{ name, dtype: 'F32', shape: [inDim, outDim] }];
    case 'float16': return [{ name, dtype: 'F16', shape: [inDim, outDim] }];
    case 'int8': return [{ name, dtype: 'I8', shape: [inDim, outDim] }, { name: scaleName(name), dtype: 'F32', shape: [outDim] }];
    case 'int4': {
      const blocks = Math.ceil(inDim / INT4_BLOCK);
      return [
        { name, dtype: 'U8', shape: [outDim, blocks, INT4_BLOCK / 2] },
        { name: scaleName(name), dtype: 'F32', shape: [outDim * blocks] },
      ];
    }
  }
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** [out, in] -> [in, out] */
export function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  // Tiled so both sides stay in cache on multi-GB matrices.
  const T = 64;
  for (let r0 = 0; r0 < rows; r0 += T) {
    for (let c0 = 0; c0 < cols; c0 += T) {
      const r1 = Math.min(rows, r0 + T);
      const c1 = Math.min(cols, c0 + T);
      for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) out[c * rows + r] = w[r * cols + c];
    }
  }
  return out;
}

/** Encodes an HF weight W [out, in] into its stored tensors (bytes, in linearStorage order). */
export function encodeLinear(w: Float32Array, outDim: number, inDim: number, dtype: WeightDtype): Uint8Array[] {
  switch (dtype) {
    case 'float32': return [bytesOf(transpose(w, outDim, inDim))];
    case 'float16': return [bytesOf(f32ToF16(transpose(w, outDim, inDim)))];
    case 'int8': {
      const scale = new Float32Array(outDim);
      const q = new Int8Array(inDim * outDim);
      for (let o = 0; o < outDim; o++) {
        let max = 0;
        for (let i = 0; i < inDim; i++) max = Math.max(max, Math.abs(w[o * inDim + i]));
        const s = max / 127 || 1;
        scale[o] = s;
        for (let i = 0; i < inDim; i++) q[i * outDim + o] = Math.round(w[o * inDim + i] / s);
      }
      return [bytesOf(q), bytesOf(scale)];
    }
    case 'int4': {
      const blocks = Math.ceil(inDim / INT4_BLOCK);
      const scale = new Float32Array(outDim * blocks);
      const q = new Uint8Array(outDim * blocks * (INT4_BLOCK / 2));
      for (let o = 0; o < outDim; o++) {
        for (let b = 0; b < blocks; b++) {
          const start = b * INT4_BLOCK;
          const end = Math.min(inDim, start + INT4_BLOCK);
          let max = 0;
          for (let i = start; i < end; i++) max = Math.max(max, Math.abs(w[o * inDim + i]));
          // Codes 1..15 around the zero point 8: symmetric, so -max and +max are both exact.
          const s = max / 7 || 1;
          scale[o * blocks + b] = s;
          const blob = (o * blocks + b) * (INT4_BLOCK / 2);
          for (let j = 0; j < INT4_BLOCK; j++) {
            const i = start + j;
            // Padding past `in` stores the zero point: it multiplies nothing.
            const code = i < end ? Math.max(1, Math.min(15, Math.round(w[o * inDim + i] / s) + 8)) : 8;
            q[blob + (j >> 1)] |= j & 1 ? code << 4 : code;
          }
        }
      }
      return [bytesOf(q), bytesOf(scale)];
    }
  }
}

/** The float weight [out, in] that stored tensors stand for (dequantized; inverse of encodeLinear up to rounding). */
export function decodeLinear(parts: Uint8Array[], outDim: number, inDim: number, dtype: WeightDtype): Float32Array {
  const aligned = (b: Uint8Array) => (b.byteOffset % 4 === 0 ? b : b.slice());
  switch (dtype) {
    case 'float32': {
      const b = aligned(parts[0]);
      return transpose(new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4), inDim, outDim);
    }
    case 'float16': {
      const b = aligned(parts[0]);
      return transpose(f16ToF32(new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2)), inDim, outDim);
    }
    case 'int8': {
      const q = new Int8Array(parts[0].buffer, parts[0].byteOffset, parts[0].byteLength);
      const sb = aligned(parts[1]);
      const scale = new Float32Array(sb.buffer, sb.byteOffset, outDim);
      const w = new Float32Array(outDim * inDim);
      for (let i = 0; i < inDim; i++) for (let o = 0; o < outDim; o++) w[o * inDim + i] = q[i * outDim + o] * scale[o];
      return w;
    }
    case 'int4': {
      const blocks = Math.ceil(inDim / INT4_BLOCK);
      const q = parts[0];
      const sb = aligned(parts[1]);
      const scale = new Float32Array(sb.buffer, sb.byteOffset, outDim * blocks);
      const w = new Float32Array(outDim * inDim);
      for (let o = 0; o < outDim; o++) {
        for (let i = 0; i < inDim; i++) {
          const b = (i / INT4_BLOCK) | 0;
          const j = i % INT4_BLOCK;
          const byte = q[(o * blocks + b) * (INT4_BLOCK / 2) + (j >> 1)];
          const code = j & 1 ? byte >> 4 : byte & 15;
          w[o * inDim + i] = (code - 8) * scale[o * blocks + b];
        }
      }
      return w;
    }
  }
}

/** A linear of the base (a block projection or lm_head) with its logical [in, out]. */
export interface LinearWeight {
  name: string;
  inDim: number;
  outDim: number;
}

/** Every quantizable linear of the base: the 7 projections of each block, then lm_head. */
export function baseLinears(dims: LlamaDims): LinearWeight[] {
  const out: LinearWeight[] = [];
  for (let l = 0; l < dims.numLayers; l++) {
    for (const t of LORA_TARGETS) {
      const [inDim, outDim] = linearShape(dims, t);
      out.push({ name: tensorNames.linear(l, t), inDim, outDim });
    }
  }
  out.push({ name: tensorNames.lmHead, inDim: dims.hiddenSize, outDim: dims.vocabSize });
  return out;
}

/**
 * Every tensor of a package's base weights file as stored for `dtype`, in file order:
 * embeddings and norms stay float32 (a Gather and a few vectors), linears per linearStorage.
 */
export function baseTensorStorage(dims: LlamaDims, dtype: WeightDtype): StoredTensor[] {
  const linears = new Map(baseLinears(dims).map((l) => [l.name, l]));
  const out: StoredTensor[] = [];
  for (const [name, shape] of baseTensorShapesOf(dims)) {
    const lin = linears.get(name);
    if (lin) out.push(...linearStorage(name, lin.inDim, lin.outDim, dtype));
    else out.push({ name, dtype: 'F32', shape });
  }
  return out;
}

/** The linears a merged-weights file holds (one group's LoRA targets, merged), in file order. */
export function mergedLinearStorage(dims: LlamaDims, targets: readonly LoraTarget[], dtype: WeightDtype): StoredTensor[] {
  const out: StoredTensor[] = [];
  for (let l = 0; l < dims.numLayers; l++) {
    for (const t of targets) {
      const [i, o] = linearShape(dims, t);
      out.push(...linearStorage(tensorNames.linear(l, t), i, o, dtype));
    }
  }
  return out;
}
