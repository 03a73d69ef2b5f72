import { describe, expect, it } from 'vitest';
import { isXalmaError } from '../../../src/errors.ts';
import { baseTensorShapes, LORA_TARGETS, linearShape, loraTensorShapes, tensorNames } from '../../../src/model/architecture.ts';
import type { LlamaDims, LoraConfig } from '../../../src/model/architecture.ts';
import { mergeModule, mergeModuleAsync } from '../../../src/model/merge.ts';
import { randomTensors, referenceForward } from '../../support/reference-forward.ts';

const dims: LlamaDims = {
  vocabSize: 32,
  hiddenSize: 16,
  intermediateSize: 24,
  numLayers: 2,
  numHeads: 4,
  numKvHeads: 2,
  headDim: 4,
  maxPositions: 64,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
};
// Rank 6 runs both the 4-wide unrolled loop and its remainder.
const lora: LoraConfig = { rank: 6, scale: 2, targets: [...LORA_TARGETS] };

const base = randomTensors(baseTensorShapes(dims), 101);
const moduleA = randomTensors(loraTensorShapes(dims, lora), 202);
const moduleB = randomTensors(loraTensorShapes(dims, lora), 303);

const inputIds = [[1, 5, 9, 30, 2, 17], [3, 3, 8, 0, 21, 11]];
const attentionMask = inputIds.map((row) => row.map(() => 1));
const positionIds = inputIds.map((row) => row.map((_, i) => i));

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('mergeModule', () => {
  it('computes W + scale * (B @ A)^T element by element in the [in, out] layout', () => {
    const merged = mergeModule(base, moduleA, dims, lora);
    for (const target of LORA_TARGETS) {
      const [inDim, outDim] = linearShape(dims, target);
      const w = base.get(tensorNames.linear(1, target))!.data;
      const a = moduleA.get(tensorNames.loraA(1, target))!.data;
      const b = moduleA.get(tensorNames.loraB(1, target))!.data;
      const got = merged.get(tensorNames.linear(1, target))!;
      expect(got.shape).toEqual([inDim, outDim]);
      for (let i = 0; i < inDim; i++) {
        for (let o = 0; o < outDim; o++) {
          let s = 0;
          for (let k = 0; k < lora.rank; k++) s += a[k * inDim + i] * b[o * lora.rank + k];
          expect(got.data[i * outDim + o]).toBeCloseTo(w[i * outDim + o] + lora.scale * s, 5);
        }
      }
    }
  });

  it('gives the same logits as applying the LoRA explicitly (reference forward, 1e-4)', () => {
    const explicit = referenceForward({ weights: base, dims, lora, modules: [moduleA, moduleA], inputIds, attentionMask, positionIds });
    const merged = referenceForward({ weights: mergeModule(base, moduleA, dims, lora), dims, inputIds, attentionMask, positionIds });
    const plain = referenceForward({ weights: base, dims, inputIds, attentionMask, positionIds });
    expect(maxAbsDiff(explicit.logits, merged.logits)).toBeLessThan(1e-4);
    // The module must matter, or the comparison above proves nothing.
    expect(maxAbsDiff(explicit.logits, plain.logits)).toBeGreaterThan(1e-2);
  });

  it('shares untouched tensors with the base and leaves the base unmodified', () => {
    const partial: LoraConfig = { rank: lora.rank, scale: lora.scale, targets: ['q_proj', 'v_proj'] };
    const before = Float32Array.from(base.get(tensorNames.linear(0, 'q_proj'))!.data);
    const merged = mergeModule(base, moduleA, dims, partial);
    expect(merged.size).toBe(base.size);
    for (const [name, t] of base) {
      const touched = name.endsWith('.q_proj.weight') || name.endsWith('.v_proj.weight');
      if (touched) expect(merged.get(name)).not.toBe(t);
      else expect(merged.get(name)).toBe(t);
    }
    expect(base.get(tensorNames.linear(0, 'q_proj'))!.data).toEqual(before);
  });

  it('mergeModuleAsync yields the same weights', async () => {
    const sync = mergeModule(base, moduleB, dims, lora);
    const async = await mergeModuleAsync(base, moduleB, dims, lora);
    for (const [name, t] of sync) expect(async.get(name)!.data).toEqual(t.data);
  });

  it('per-row modules in one batch match each row run with its own merged weights', () => {
    const mixed = referenceForward({ weights: base, dims, lora, modules: [moduleA, null], inputIds, attentionMask, positionIds });
    const rowA = referenceForward({ weights: mergeModule(base, moduleA, dims, lora), dims, inputIds: [inputIds[0]], attentionMask: [attentionMask[0]], positionIds: [positionIds[0]] });
    const rowPlain = referenceForward({ weights: base, dims, inputIds: [inputIds[1]], attentionMask: [attentionMask[1]], positionIds: [positionIds[1]] });
    const perRow = inputIds[0].length * dims.vocabSize;
    expect(maxAbsDiff(mixed.logits.subarray(0, perRow), rowA.logits)).toBeLessThan(1e-4);
    expect(maxAbsDiff(mixed.logits.subarray(perRow), rowPlain.logits)).toBeLessThan(1e-6);
  });

  it('rejects a module with a missing or misshapen factor as MODULE_INVALID', () => {
    const broken = new Map(moduleA);
    broken.delete(tensorNames.loraA(0, 'up_proj'));
    expect(() => mergeModule(base, broken, dims, lora)).toThrow(expect.objectContaining({ code: 'MODULE_INVALID' }));
    const wrongRank = randomTensors(loraTensorShapes(dims, { ...lora, rank: 5 }), 7);
    let err: unknown;
    try {
      mergeModule(base, wrongRank, dims, lora);
    } catch (e) {
      err = e;
    }
    expect(isXalmaError(err, 'MODULE_INVALID')).toBe(true);
  });
});
