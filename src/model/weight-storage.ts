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

/**
 * Buffers reused from tensor to tensor (grown, never shrunk): a fresh multi-MB array costs a
 * page fault per 4 KiB on first touch, more than the conversion itself (half.ts).
 */
export class Scratch {
  private readonly buffers = new Map<string, ArrayBuffer>();

  bytes(key: string, n: number): Uint8Array {
    let b = this.buffers.get(key);
    if (!b || b.byteLength < n) {
      b = new ArrayBuffer(Math.max(n, Math.ceil((b?.byteLength ?? 0) * 1.25)));
      this.buffers.set(key, b);
    }
    return new Uint8Array(b, 0, n);
  }

  f32(key: string, n: number): Float32Array {
    const b = this.bytes(key, n * 4);
    return new Float32Array(b.buffer, 0, n);
  }
}

/** [rows, cols] -> [cols, rows], tiled so both sides stay in cache on large matrices. */
export function transpose(w: Float32Array, rows: number, cols: number, out: Float32Array = new Float32Array(w.length)): Float32Array {
  const T = 32;
  for (let r0 = 0; r0 < rows; r0 += T) {
    const r1 = r0 + T < rows ? r0 + T : rows;
    for (let c0 = 0; c0 < cols; c0 += T) {
      const c1 = c0 + T < cols ? c0 + T : cols;
      for (let r = r0; r < r1; r++) {
        let s = r * cols + c0;
        let d = c0 * rows + r;
        for (let c = c0; c < c1; c++, s++, d += rows) out[d] = w[s];
      }
    }
  }
  return out;
}

/**
 * Encodes an HF weight W [out, in] into its stored tensors (bytes, in linearStorage order).
 * With `scratch` the results live in its buffers: valid until the next call with the same scratch.
 */
export function encodeLinear(w: Float32Array, outDim: number, inDim: number, dtype: WeightDtype, scratch?: Scratch): Uint8Array[] {
  const n = outDim * inDim;
  const f32 = (key: string, len: number) => (scratch ? scratch.f32(key, len) : new Float32Array(len));
  const u8 = (key: string, len: number) => (scratch ? scratch.bytes(key, len).fill(0) : new Uint8Array(len));
  switch (dtype) {
    case 'float32': return [bytesOf(transpose(w, outDim, inDim, f32('t', n)))];
    case 'float16': return [bytesOf(f32ToF16(transpose(w, outDim, inDim, f32('t', n))))];
    case 'int8': {
      const scale = f32('scale', outDim);
      const inv = f32('inv', outDim);
      for (let o = 0; o < outDim; o++) {
        let max = 0;
        for (let i = o * inDim, end = i + inDim; i < end; i++) {
          const a = w[i] < 0 ? -w[i] : w[i];
          if (a > max) max = a;
        }
        scale[o] = max / 127 || 1;
        inv[o] = 1 / scale[o];
      }
      // Quantized and transposed to [in, out] in tiles (the scatter is the costly part).
      const qb = u8('q', n);
      const q = new Int8Array(qb.buffer, qb.byteOffset, n);
      const T = 32;
      for (let o0 = 0; o0 < outDim; o0 += T) {
        const o1 = o0 + T < outDim ? o0 + T : outDim;
        for (let i0 = 0; i0 < inDim; i0 += T) {
          const i1 = i0 + T < inDim ? i0 + T : inDim;
          for (let o = o0; o < o1; o++) {
            const k = inv[o];
            for (let i = i0; i < i1; i++) q[i * outDim + o] = Math.round(w[o * inDim + i] * k);
          }
        }
      }
      return [qb, bytesOf(scale)];
    }
    case 'int4': {
      const blocks = Math.ceil(inDim / INT4_BLOCK);
      const scale = f32('scale', outDim * blocks);
      const q = u8('q', outDim * blocks * (INT4_BLOCK / 2));
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
