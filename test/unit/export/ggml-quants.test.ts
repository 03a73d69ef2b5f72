import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dequantizeQ4_0, dequantizeQ8_0, encodeTensor, GgmlType, quantizeQ4_0, quantizeQ8_0 } from '../../../src/export/ggml-quants.ts';
import { f16ToF32, f32ToF16 } from '../../../src/model/half.ts';

const f16 = (v: number) => f16ToF32(f32ToF16(Float32Array.of(v)))[0];
const halfAt = (b: Uint8Array, at: number) => f16ToF32(Uint16Array.of(b[at] | (b[at + 1] << 8)))[0];
const block = (f: (j: number) => number) => Float32Array.from({ length: 32 }, (_, j) => f(j));
const floats = fc.float32Array({ minLength: 32, maxLength: 32, noNaN: true, noDefaultInfinity: true, min: -1e3, max: 1e3 });

describe('Q8_0 (ggml block of 32: f16 scale, 32 int8)', () => {
  it('lays out one block as 2 bytes of f16 d = amax/127, then round(x/d) as int8', () => {
    const x = block((j) => (j - 16) * 0.5); // amax 8 at j = 0
    const q = quantizeQ8_0(x);
    expect(q.length).toBe(34);
    expect(halfAt(q, 0)).toBe(f16(8 / 127));
    const codes = Array.from(new Int8Array(q.buffer, 2, 32));
    expect(codes[0]).toBe(-127);
    expect(codes[16]).toBe(0);
    // 0.5 / (8/127) = 7.9375 -> 8; 7.5 / (8/127) = 119.06 -> 119
    expect(codes[17]).toBe(8);
    expect(codes[31]).toBe(119);
  });

  it('rounds halves away from zero, as C roundf (±2.5 steps -> ±3)', () => {
    const x = block((j) => (j === 0 ? 127 : j === 1 ? 2.5 : j === 2 ? -2.5 : 0));
    const codes = new Int8Array(quantizeQ8_0(x).buffer, 2, 32);
    expect([codes[0], codes[1], codes[2]]).toEqual([127, 3, -3]);
  });

  it('an all-zero block has d = 0 and zero codes', () => {
    expect(Array.from(quantizeQ8_0(new Float32Array(32)))).toEqual(new Array(34).fill(0));
  });

  it('dequantizes within half a step (plus the f16 rounding of d) of the input', () => {
    fc.assert(fc.property(floats, (x) => {
      const q = quantizeQ8_0(x);
      const y = dequantizeQ8_0(q);
      const amax = Math.max(...Array.from(x, Math.abs));
      const d = amax / 127;
      // The stored d's own rounding: at most d * 2^-11 where f16 is normal; all of d where it underflows.
      const rounding = Math.abs(halfAt(q, 0) - d);
      expect(rounding).toBeLessThanOrEqual(Math.max(d * 2 ** -11, 2 ** -25));
      for (let j = 0; j < 32; j++) expect(Math.abs(y[j] - x[j])).toBeLessThanOrEqual(d / 2 + 127 * rounding + 1e-30);
    }));
  });
});

describe('Q4_0 (ggml block of 32: f16 scale, 16 bytes of nibbles)', () => {
  it('d = max/-8 with the signed value of largest magnitude; element j low nibble, j+16 high nibble', () => {
    const x = block((j) => j - 16); // max magnitude -16 at j = 0 -> d = 2
    const q = quantizeQ4_0(x);
    expect(q.length).toBe(18);
    expect(halfAt(q, 0)).toBe(2);
    // code = min(15, trunc(x/d + 8.5)): x=-16 -> 0, x=0 (j=16) -> 8, x=15 (j=31) -> 15, x=-1 (j=15) -> 8
    expect(q[2] & 15).toBe(0);
    expect(q[2] >> 4).toBe(8);
    expect(q[2 + 15] & 15).toBe(8);
    expect(q[2 + 15] >> 4).toBe(15);
    const y = dequantizeQ4_0(q);
    expect(y[0]).toBe(-16);
    expect(y[16]).toBe(0);
    expect(y[31]).toBe(14);
  });

  it('a positive extreme gives a negative d, and maps to code 0', () => {
    const x = block((j) => (j === 5 ? 4 : 1));
    const q = quantizeQ4_0(x);
    expect(halfAt(q, 0)).toBe(-0.5);
    expect(q[2 + 5] & 15).toBe(0);
    expect(dequantizeQ4_0(q)[5]).toBe(4);
  });

  it('dequantizes within half a step (plus the f16 rounding of d) of the input, the extreme exactly up to f16', () => {
    fc.assert(fc.property(floats, (x) => {
      const q = quantizeQ4_0(x);
      const y = dequantizeQ4_0(q);
      const amax = Math.max(...Array.from(x, Math.abs));
      const d = amax / 8;
      // The stored |d|'s own rounding: at most d * 2^-11 where f16 is normal; all of d where it underflows.
      const rounding = Math.abs(Math.abs(halfAt(q, 0)) - d);
      expect(rounding).toBeLessThanOrEqual(Math.max(d * 2 ** -11, 2 ** -25));
      // Codes clamp at 15 (+7 d): values up to +8 d land there, so the top of the range may be off by one step.
      for (let j = 0; j < 32; j++) expect(Math.abs(y[j] - x[j])).toBeLessThanOrEqual(d + 8 * rounding + 1e-30);
    }));
  });

  it('rows are blocks back to back: a tensor of 2 rows x 64 is 4 blocks', () => {
    const x = Float32Array.from({ length: 128 }, (_, i) => Math.sin(i));
    expect(encodeTensor(x, GgmlType.Q4_0).length).toBe(4 * 18);
    expect(encodeTensor(x, GgmlType.Q8_0).length).toBe(4 * 34);
    expect(() => quantizeQ4_0(new Float32Array(48))).toThrow(/multiple of 32/);
  });
});
