/**
 * Sanity checks of the test-only reference forward pass (test/support/reference-forward.ts):
 * the ONNX graph and the merge code are judged against it, so it must itself be right.
 */
import { describe, expect, it } from 'vitest';
import { baseTensorShapes, tensorNames } from '../../../src/model/architecture.ts';
import type { LlamaDims } from '../../../src/model/architecture.ts';
import { randomTensors, referenceForward } from '../../support/reference-forward.ts';
import type { KvPair, RefTensor } from '../../support/reference-forward.ts';

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
const weights = randomTensors(baseTensorShapes(dims), 42);
const vocab = dims.vocabSize;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Logits of row b, position i of a [batch, seq, vocab] result. */
function logitsAt(logits: Float32Array, seqLen: number, b: number, i: number): Float32Array {
  const start = (b * seqLen + i) * vocab;
  return logits.subarray(start, start + vocab);
}

describe('referenceForward', () => {
  it('decoding step by step with the KV cache equals recomputing the whole sequence', () => {
    const ids = [[4, 8, 15, 16, 23, 1, 7], [2, 30, 11, 5, 9, 9, 0]];
    const n = ids[0].length;
    const full = referenceForward({
      weights, dims,
      inputIds: ids,
      attentionMask: ids.map((r) => r.map(() => 1)),
      positionIds: ids.map((r) => r.map((_, i) => i)),
    });

    const prefix = 4;
    let step = referenceForward({
      weights, dims,
      inputIds: ids.map((r) => r.slice(0, prefix)),
      attentionMask: ids.map(() => Array(prefix).fill(1)),
      positionIds: ids.map(() => Array.from({ length: prefix }, (_, i) => i)),
    });
    for (let b = 0; b < 2; b++) {
      for (let i = 0; i < prefix; i++) {
        expect(maxAbsDiff(logitsAt(step.logits, prefix, b, i), logitsAt(full.logits, n, b, i))).toBeLessThan(1e-5);
      }
    }
    let past: KvPair[] = step.present;
    for (let t = prefix; t < n; t++) {
      step = referenceForward({
        weights, dims,
        inputIds: ids.map((r) => [r[t]]),
        attentionMask: ids.map(() => Array(t + 1).fill(1)),
        positionIds: ids.map(() => [t]),
        past,
        pastLength: t,
      });
      for (let b = 0; b < 2; b++) {
        expect(maxAbsDiff(logitsAt(step.logits, 1, b, 0), logitsAt(full.logits, n, b, t))).toBeLessThan(1e-5);
      }
      past = step.present;
    }
    expect(step.totalLength).toBe(n);
    for (let l = 0; l < dims.numLayers; l++) {
      expect(maxAbsDiff(past[l].key, full.present[l].key)).toBeLessThan(1e-6);
      expect(maxAbsDiff(past[l].value, full.present[l].value)).toBeLessThan(1e-6);
    }
  });

  it('a left-padded row gives the same logits on its real tokens as the row alone, also when decoding on', () => {
    const short = [6, 12, 3, 25, 19];
    const long = [1, 2, 3, 4, 5, 6, 7];
    const pad = 2;
    const alone = referenceForward({
      weights, dims,
      inputIds: [short],
      attentionMask: [short.map(() => 1)],
      positionIds: [short.map((_, i) => i)],
    });
    const batch = referenceForward({
      weights, dims,
      inputIds: [[0, 0, ...short], long],
      attentionMask: [[0, 0, ...short.map(() => 1)], long.map(() => 1)],
      // Positions counted from the first real token; pads get 1 as Hugging Face does.
      positionIds: [[1, 1, ...short.map((_, i) => i)], long.map((_, i) => i)],
    });
    expect(batch.logits.every(Number.isFinite)).toBe(true);
    for (let i = 0; i < short.length; i++) {
      expect(maxAbsDiff(logitsAt(batch.logits, long.length, 0, pad + i), logitsAt(alone.logits, short.length, 0, i))).toBeLessThan(1e-5);
    }

    // One decode step on top of each cache.
    const next = 14;
    const aloneStep = referenceForward({
      weights, dims,
      inputIds: [[next]],
      attentionMask: [Array(short.length + 1).fill(1)],
      positionIds: [[short.length]],
      past: alone.present,
      pastLength: short.length,
    });
    const batchStep = referenceForward({
      weights, dims,
      inputIds: [[next], [next]],
      attentionMask: [[0, 0, ...Array(short.length + 1).fill(1)], Array(long.length + 1).fill(1)],
      positionIds: [[short.length], [long.length]],
      past: batch.present,
      pastLength: long.length,
    });
    expect(maxAbsDiff(logitsAt(batchStep.logits, 1, 0, 0), aloneStep.logits)).toBeLessThan(1e-5);
  });

  it('grouped-query attention: query head h reads kv head floor(h / group)', () => {
    // The same model written with one kv head per query head (k/v columns duplicated) must
    // give identical logits.
    const fullDims: LlamaDims = { ...dims, numKvHeads: dims.numHeads };
    const group = dims.numHeads / dims.numKvHeads;
    const expanded = new Map<string, RefTensor>(weights);
    for (let l = 0; l < dims.numLayers; l++) {
      for (const target of ['k_proj', 'v_proj'] as const) {
        const src = weights.get(tensorNames.linear(l, target))!.data;
        const srcOut = dims.numKvHeads * dims.headDim;
        const dstOut = dims.numHeads * dims.headDim;
        const dst = new Float32Array(dims.hiddenSize * dstOut);
        for (let i = 0; i < dims.hiddenSize; i++) {
          for (let h = 0; h < dims.numHeads; h++) {
            const kvh = Math.floor(h / group);
            for (let d = 0; d < dims.headDim; d++) dst[i * dstOut + h * dims.headDim + d] = src[i * srcOut + kvh * dims.headDim + d];
          }
        }
        expanded.set(tensorNames.linear(l, target), { shape: [dims.hiddenSize, dstOut], data: dst });
      }
    }
    const input = { inputIds: [[3, 1, 4, 1, 5]], attentionMask: [[1, 1, 1, 1, 1]], positionIds: [[0, 1, 2, 3, 4]] };
    const gqa = referenceForward({ weights, dims, ...input });
    const mha = referenceForward({ weights: expanded, dims: fullDims, ...input });
    expect(maxAbsDiff(gqa.logits, mha.logits)).toBeLessThan(1e-5);
  });

  it('RoPE is relative: shifting every position id by a constant leaves the logits unchanged', () => {
    const ids = [[9, 2, 27, 14, 5, 5]];
    const mask = [ids[0].map(() => 1)];
    const at0 = referenceForward({ weights, dims, inputIds: ids, attentionMask: mask, positionIds: [ids[0].map((_, i) => i)] });
    const at7 = referenceForward({ weights, dims, inputIds: ids, attentionMask: mask, positionIds: [ids[0].map((_, i) => i + 7)] });
    expect(maxAbsDiff(at0.logits, at7.logits)).toBeLessThan(1e-5);
    // ...while reversing the order of positions does change them (positions are used at all).
    const reversed = referenceForward({ weights, dims, inputIds: ids, attentionMask: mask, positionIds: [ids[0].map((_, i) => 5 - i)] });
    expect(maxAbsDiff(at0.logits, reversed.logits)).toBeGreaterThan(1e-3);
  });

  it('a query whose keys are all masked gets a uniform softmax, not NaN', () => {
    const out = referenceForward({
      weights, dims,
      inputIds: [[7, 8, 9]],
      attentionMask: [[0, 0, 0]],
      positionIds: [[0, 1, 2]],
    });
    expect(out.logits.every(Number.isFinite)).toBe(true);
  });

  it('returns present key/value shaped [batch, kvHeads, past + seq, headDim] per layer', () => {
    const out = referenceForward({
      weights, dims,
      inputIds: [[1, 2, 3], [4, 5, 6]],
      attentionMask: [[1, 1, 1], [1, 1, 1]],
      positionIds: [[0, 1, 2], [0, 1, 2]],
    });
    expect(out.logits.length).toBe(2 * 3 * vocab);
    expect(out.present).toHaveLength(dims.numLayers);
    for (const p of out.present) {
      expect(p.key.length).toBe(2 * dims.numKvHeads * 3 * dims.headDim);
      expect(p.value.length).toBe(p.key.length);
    }
  });
});
