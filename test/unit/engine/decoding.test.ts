/**
 * Token selection over one row of logits (src/engine/decoding.ts): the nucleus (top-p) set,
 * temperature before top-p, the banned token, and the helpers beam search ranks with.
 * Which tokens sampling can return is read off many seeded draws: with a fixed seed the draws,
 * and so these tests, are the same on every run.
 */
import { describe, expect, it } from 'vitest';
import { argmax, logSoftmaxRow, sampleRow, topK } from '../../../src/engine/decoding.ts';
import { Rng } from '../../../src/model/random.ts';

const DRAWS = 4000;

/** Logits whose softmax is `probs` (probabilities need not be sorted). */
const logitsOf = (probs: number[]) => Float32Array.from(probs, Math.log);

/** How often each token comes out of `DRAWS` seeded draws, as fractions. */
function frequencies(logits: Float32Array, opts: { temperature: number; topP: number; banned?: number }, seed = 1): number[] {
  const vocab = logits.length;
  const counts = new Array<number>(vocab).fill(0);
  const rng = new Rng(seed);
  const scratch = new Float64Array(vocab);
  for (let i = 0; i < DRAWS; i++) counts[sampleRow(logits, 0, vocab, opts, rng, scratch)]++;
  return counts.map((c) => c / DRAWS);
}

const kept = (freq: number[]) => freq.flatMap((f, token) => (f > 0 ? [token] : [])).sort((a, b) => a - b);

describe('sampleRow: top-p keeps exactly the smallest set of most likely tokens whose mass reaches p', () => {
  // Token order by probability: 1 (0.4), 3 (0.3), 2 (0.2), 0 (0.1); cumulative 0.4, 0.7, 0.9, 1.
  const logits = logitsOf([0.1, 0.4, 0.2, 0.3]);

  it.each([
    [0.39, [1]],
    [0.41, [1, 3]],
    [0.69, [1, 3]],
    [0.71, [1, 2, 3]],
    [0.89, [1, 2, 3]],
    [0.91, [0, 1, 2, 3]],
    [1, [0, 1, 2, 3]],
  ])('topP %s keeps tokens %j', (topP, expected) => {
    expect(kept(frequencies(logits, { temperature: 1, topP }))).toEqual(expected);
  });

  it('a set whose mass equals p exactly is enough (reaches, not exceeds)', () => {
    // Four equal logits: every token has exactly 1/4 and two of them exactly 1/2.
    expect(kept(frequencies(new Float32Array(4), { temperature: 1, topP: 0.5 }))).toHaveLength(2);
  });

  it('samples the kept tokens in proportion to their renormalized probabilities', () => {
    const freq = frequencies(logits, { temperature: 1, topP: 0.71 });
    // kept {1, 3, 2} with mass 0.9: 0.4/0.9, 0.3/0.9, 0.2/0.9
    expect(freq[1]).toBeCloseTo(0.4 / 0.9, 1);
    expect(freq[3]).toBeCloseTo(0.3 / 0.9, 1);
    expect(freq[2]).toBeCloseTo(0.2 / 0.9, 1);
  });

  it('applies the temperature before the nucleus', () => {
    // At T = 0.5 the probabilities go as p^2: 1 -> 0.53, 3 -> 0.30, 2 -> 0.13, 0 -> 0.03,
    // so 0.8 is reached by {1, 3}; at T = 1 it takes {1, 3, 2}.
    expect(kept(frequencies(logits, { temperature: 0.5, topP: 0.8 }))).toEqual([1, 3]);
    expect(kept(frequencies(logits, { temperature: 1, topP: 0.8 }))).toEqual([1, 2, 3]);
  });

  it('never samples the banned token, and measures the nucleus without it', () => {
    // Without token 1: 3 -> 0.5, 2 -> 0.33, 0 -> 0.17; 0.6 is reached by {3, 2}.
    expect(kept(frequencies(logits, { temperature: 1, topP: 0.6, banned: 1 }))).toEqual([2, 3]);
    expect(kept(frequencies(logits, { temperature: 1, topP: 1, banned: 1 }))).toEqual([0, 2, 3]);
  });

  it('the same seed gives the same draws, another seed others', () => {
    const draw = (seed: number) => {
      const rng = new Rng(seed);
      const scratch = new Float64Array(4);
      return Array.from({ length: 32 }, () => sampleRow(logits, 0, 4, { temperature: 1, topP: 0.95 }, rng, scratch));
    };
    expect(draw(7)).toEqual(draw(7));
    expect(draw(8)).not.toEqual(draw(7));
  });

  it('reads the requested row of a [rows, vocab] array', () => {
    const two = new Float32Array([...logitsOf([0.97, 0.01, 0.01, 0.01]), ...logitsOf([0.01, 0.01, 0.01, 0.97])]);
    const rng = new Rng(3);
    const scratch = new Float64Array(4);
    expect(sampleRow(two, 1, 4, { temperature: 1, topP: 0.5 }, rng, scratch)).toBe(3);
    expect(sampleRow(two, 0, 4, { temperature: 1, topP: 0.5 }, rng, scratch)).toBe(0);
  });
});

describe('greedy and beam-ranking helpers', () => {
  it('argmax picks the largest logit of the row, skipping the banned token', () => {
    const rows = new Float32Array([0, 5, 1, 2, /* row 1 */ 9, 0, 3, 8]);
    expect(argmax(rows, 0, 4)).toBe(1);
    expect(argmax(rows, 1, 4)).toBe(0);
    expect(argmax(rows, 1, 4, 0)).toBe(3);
  });

  it('logSoftmaxRow gives log-probabilities that sum to 1, shift-invariant and stable for large logits', () => {
    const out = new Float64Array(3);
    logSoftmaxRow(new Float32Array([1000, 1001, 1002]), 0, 3, out);
    expect(out.reduce((s, x) => s + Math.exp(x), 0)).toBeCloseTo(1, 12);
    const shifted = new Float64Array(3);
    logSoftmaxRow(new Float32Array([0, 1, 2]), 0, 3, shifted);
    for (let v = 0; v < 3; v++) expect(out[v]).toBeCloseTo(shifted[v], 9);
    expect(shifted[2] - shifted[1]).toBeCloseTo(1, 6);
  });

  it('topK returns the k largest scores, best first, with their indices', () => {
    const scores = Float64Array.from([0.1, 0.9, -3, 0.5, 0.7, 0.2]);
    expect(topK(scores, 3)).toEqual([
      { index: 1, value: 0.9 },
      { index: 4, value: 0.7 },
      { index: 3, value: 0.5 },
    ]);
    expect(topK(scores, 2, 100).map((c) => c.index)).toEqual([101, 104]);
    expect(topK(scores, 10)).toHaveLength(6);
  });
});
