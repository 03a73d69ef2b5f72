/**
 * Token selection over one row of logits: greedy, sampling (temperature, top-p) and the
 * log-softmax / top-k helpers beam search uses. Pure functions over Float32Array; no ORT.
 */
import { Rng } from '../model/random.ts';

/** Index of the largest logit in row `row` of a [rows, vocab] array, skipping `banned` (or -1). */
export function argmax(logits: Float32Array, row: number, vocab: number, banned = -1): number {
  const base = row * vocab;
  let best = -1;
  let bestValue = -Infinity;
  for (let v = 0; v < vocab; v++) {
    const x = logits[base + v];
    if (x > bestValue && v !== banned) {
      bestValue = x;
      best = v;
    }
  }
  return best;
}

/** log-softmax of one row into `out` (length vocab), computed in float64 for stability. */
export function logSoftmaxRow(logits: Float32Array, row: number, vocab: number, out: Float64Array): void {
  const base = row * vocab;
  let max = -Infinity;
  for (let v = 0; v < vocab; v++) max = Math.max(max, logits[base + v]);
  let sum = 0;
  for (let v = 0; v < vocab; v++) sum += Math.exp(logits[base + v] - max);
  const logZ = max + Math.log(sum);
  for (let v = 0; v < vocab; v++) out[v] = logits[base + v] - logZ;
}

/**
 * The k largest values of `scores` (indices and values, best first). O(n log k) with a small
 * sorted insertion buffer: k is 2 * beams (<= ~20), far below vocab.
 */
export function topK(scores: Float64Array, k: number, offset = 0): Array<{ index: number; value: number }> {
  const out: Array<{ index: number; value: number }> = [];
  for (let i = 0; i < scores.length; i++) {
    const value = scores[i];
    if (out.length === k && value <= out[k - 1].value) continue;
    let pos = out.length < k ? out.length : k - 1;
    if (out.length < k) out.push({ index: 0, value: 0 });
    while (pos > 0 && out[pos - 1].value < value) {
      out[pos] = out[pos - 1];
      pos--;
    }
    out[pos] = { index: i + offset, value };
  }
  return out;
}

/**
 * Samples a token from one row with temperature and nucleus (top-p) filtering.
 * Deterministic for a given Rng state; `scratch` must hold `vocab` entries.
 */
export function sampleRow(
  logits: Float32Array,
  row: number,
  vocab: number,
  opts: { temperature: number; topP: number; banned?: number },
  rng: Rng,
  scratch: Float64Array,
): number {
  const base = row * vocab;
  const t = Math.max(opts.temperature, 1e-5);
  let max = -Infinity;
  for (let v = 0; v < vocab; v++) if (v !== opts.banned) max = Math.max(max, logits[base + v]);
  let sum = 0;
  for (let v = 0; v < vocab; v++) {
    const p = v === opts.banned ? 0 : Math.exp((logits[base + v] - max) / t);
    scratch[v] = p;
    sum += p;
  }
  if (opts.topP < 1) {
    // Nucleus: keep the smallest set of most likely tokens whose mass reaches topP.
    const order = Array.from({ length: vocab }, (_, i) => i).sort((a, b) => scratch[b] - scratch[a] || a - b);
    let mass = 0;
    let kept = 0;
    const keep = new Uint8Array(vocab);
    for (const v of order) {
      keep[v] = 1;
      mass += scratch[v] / sum;
      kept++;
      if (mass >= opts.topP) break;
    }
    sum = 0;
    for (let v = 0; v < vocab; v++) {
      if (!keep[v]) scratch[v] = 0;
      sum += scratch[v];
    }
    if (kept === 0) return argmax(logits, row, vocab, opts.banned);
  }
  let r = rng.next() * sum;
  for (let v = 0; v < vocab; v++) {
    r -= scratch[v];
    if (r < 0 && scratch[v] > 0) return v;
  }
  return argmax(logits, row, vocab, opts.banned);
}
