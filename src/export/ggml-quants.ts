/**
 * ggml tensor types a GGUF export writes, and the reference quantizers of ggml's block formats
 * (ggml-quants.c `quantize_row_q8_0_ref`, `quantize_row_q4_0_ref`), value for value:
 *
 *   Q8_0  block of 32: f16 d, int8 qs[32]            d = amax / 127, q = roundf(x / d)
 *   Q4_0  block of 32: f16 d, u8 qs[16]              d = max / -8 (max: the value of largest
 *                                                    magnitude, with its sign), q = min(15,
 *                                                    trunc(x / d + 8.5)); qs[j] holds element j
 *                                                    in its low nibble and element j + 16 in
 *                                                    its high nibble
 * Blocks run along ne[0] (the input axis of a weight), so ne[0] must be a multiple of 32.
 * The arithmetic is float32 as in C (Math.fround), so codes equal llama-quantize's.
 */
import { f16ToF32, f32ToF16 } from '../model/half.ts';

export const GgmlType = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8 } as const;
export type GgmlType = (typeof GgmlType)[keyof typeof GgmlType];

export const QK = 32;
const Q8_0_BYTES = 2 + QK;
const Q4_0_BYTES = 2 + QK / 2;

export function ggmlTypeSize(type: GgmlType): { blockSize: number; bytesPerBlock: number } {
  switch (type) {
    case GgmlType.F32: return { blockSize: 1, bytesPerBlock: 4 };
    case GgmlType.F16: return { blockSize: 1, bytesPerBlock: 2 };
    case GgmlType.Q8_0: return { blockSize: QK, bytesPerBlock: Q8_0_BYTES };
    case GgmlType.Q4_0: return { blockSize: QK, bytesPerBlock: Q4_0_BYTES };
  }
}

const fr = Math.fround;
const half = new Float32Array(1);
/** f16 bits of one float32 value (round to nearest even). */
function toHalf(v: number): number {
  half[0] = v;
  return f32ToF16(half)[0];
}

/** C's roundf: half away from zero. */
function roundf(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

function checkLength(n: number): void {
  if (n % QK !== 0) throw new Error(`ggml block quantization: ${n} values is not a multiple of ${QK}`);
}

export function quantizeQ8_0(x: Float32Array): Uint8Array {
  checkLength(x.length);
  const blocks = x.length / QK;
  const out = new Uint8Array(blocks * Q8_0_BYTES);
  const view = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    const base = b * QK;
    let amax = 0;
    for (let j = 0; j < QK; j++) amax = Math.max(amax, Math.abs(x[base + j]));
    const d = fr(amax / 127);
    const id = d ? fr(1 / d) : 0;
    const at = b * Q8_0_BYTES;
    view.setUint16(at, toHalf(d), true);
    for (let j = 0; j < QK; j++) view.setInt8(at + 2 + j, roundf(fr(x[base + j] * id)));
  }
  return out;
}

export function quantizeQ4_0(x: Float32Array): Uint8Array {
  checkLength(x.length);
  const blocks = x.length / QK;
  const out = new Uint8Array(blocks * Q4_0_BYTES);
  const view = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    const base = b * QK;
    let amax = 0;
    let max = 0;
    for (let j = 0; j < QK; j++) {
      const v = x[base + j];
      if (amax < Math.abs(v)) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = fr(max / -8);
    const id = d ? fr(1 / d) : 0;
    const at = b * Q4_0_BYTES;
    view.setUint16(at, toHalf(d), true);
    for (let j = 0; j < QK / 2; j++) {
      // (int8_t)(x0 + 8.5f): x0 >= -8, so the truncation is a floor of a positive value.
      const q0 = Math.min(15, Math.trunc(fr(fr(x[base + j] * id) + 8.5)));
      const q1 = Math.min(15, Math.trunc(fr(fr(x[base + QK / 2 + j] * id) + 8.5)));
      out[at + 2 + j] = q0 | (q1 << 4);
    }
  }
  return out;
}

/** Float32 values of Q8_0 blocks (ggml's dequantize_row_q8_0). */
export function dequantizeQ8_0(bytes: Uint8Array): Float32Array {
  const blocks = bytes.length / Q8_0_BYTES;
  const out = new Float32Array(blocks * QK);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let b = 0; b < blocks; b++) {
    const d = f16ToF32(Uint16Array.of(view.getUint16(b * Q8_0_BYTES, true)))[0];
    for (let j = 0; j < QK; j++) out[b * QK + j] = view.getInt8(b * Q8_0_BYTES + 2 + j) * d;
  }
  return out;
}

/** Float32 values of Q4_0 blocks (ggml's dequantize_row_q4_0). */
export function dequantizeQ4_0(bytes: Uint8Array): Float32Array {
  const blocks = bytes.length / Q4_0_BYTES;
  const out = new Float32Array(blocks * QK);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let b = 0; b < blocks; b++) {
    const at = b * Q4_0_BYTES;
    const d = f16ToF32(Uint16Array.of(view.getUint16(at, true)))[0];
    for (let j = 0; j < QK / 2; j++) {
      const q = bytes[at + 2 + j];
      out[b * QK + j] = ((q & 15) - 8) * d;
      out[b * QK + QK / 2 + j] = ((q >> 4) - 8) * d;
    }
  }
  return out;
}

/** A row-major float32 tensor encoded as `type` (blocks along the contiguous axis). */
export function encodeTensor(x: Float32Array, type: GgmlType): Uint8Array {
  switch (type) {
    case GgmlType.F32: return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
    case GgmlType.F16: { const h = f32ToF16(x); return new Uint8Array(h.buffer, h.byteOffset, h.byteLength); }
    case GgmlType.Q8_0: return quantizeQ8_0(x);
    case GgmlType.Q4_0: return quantizeQ4_0(x);
  }
}
