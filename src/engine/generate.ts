/**
 * Batched generation over prompts of different lengths: one prefill of the left-padded batch,
 * then one decode step per token for every live row. Each request owns one row (greedy,
 * sampling) or `beams` rows (beam search). After every step the batch is compacted: rows that
 * finished, were aborted or lost their beam are dropped from the KV cache, so a finished row
 * stops costing compute. The model is reached only through `StepFn` (made by the mode runners, modes.ts).
 *
 * KV cache: the graph concatenates past and new keys (present = Concat(past, k)), so ORT
 * returns a fresh [rows, kvHeads, T, headDim] buffer per layer per step and we hand it back as
 * the next step's past. Chosen by measurement over a preallocated cache: the JavaScript around
 * the steps (feeds, selection, this bookkeeping) is 0.2-2% of a generation (bench/results/
 * summary.md, "where the time goes"), and with standard ONNX ops a fixed-capacity cache still
 * copies O(T) per step (ScatterND into it, Slice out of it), so it would only trade one copy
 * for another. The real saving is a shared past/present buffer (onnxruntime-node does write
 * into caller-provided output tensors, checked) with the GroupQueryAttention contrib op, which
 * needs right-padded caches: not built yet. Our own per-step buffers (ids, mask, positions)
 * are allocated once per batch at the maximum length, not per step.
 */
import type { DecodingOptions, FinishReason } from './types.ts';
import { argmax, logSoftmaxRow, sampleRow, topK } from './decoding.ts';
import { Rng } from '../model/random.ts';

export interface GenRequest {
  promptIds: number[];
  options: DecodingOptions;
  /** Group id of this row's module (all mode maps it to its stacked slot); ignored by single-module runners. */
  module: number;
  signal?: AbortSignal;
}

export interface GenResult {
  tokens: number[];
  finishReason: FinishReason;
}

export interface StepBatch {
  rows: number;
  seqLen: number;
  pastLen: number;
  inputIds: BigInt64Array; // [rows, seqLen]
  attentionMask: BigInt64Array; // [rows, pastLen + seqLen]
  positionIds: BigInt64Array; // [rows, seqLen]
  modules: Int32Array; // [rows]
  /** 2 per layer (key, value), each [rows, kvHeads, pastLen, headDim]; null before prefill. */
  past: Float32Array[] | null;
}

export interface StepResult {
  /** [rows, vocab]: logits of each row's last position. */
  logits: Float32Array;
  /** Same layout as StepBatch.past with pastLen + seqLen positions. */
  present: Float32Array[];
}

export type StepFn = (batch: StepBatch) => Promise<StepResult>;

export interface GenerateConfig {
  vocabSize: number;
  eosId: number;
  padId: number;
  kvHeads: number;
  headDim: number;
}

interface Row {
  item: number;
  tokens: number[];
  /** Sum of log-probabilities (beam search). */
  score: number;
  /** Left padding of this row's prompt. */
  pad: number;
  /** Real tokens in the cache so far (prompt + generated); next position id. */
  realLen: number;
}

interface ItemState {
  req: GenRequest;
  done: boolean;
  reason: FinishReason;
  result: number[];
  finished: Array<{ tokens: number[]; score: number }>;
  rng: Rng | null;
}

/** Copies the rows `parents` of a [rows, rowSize] array into a new [parents.length, rowSize] array. */
export function gatherRows(src: Float32Array, rowSize: number, parents: number[]): Float32Array {
  const out = new Float32Array(parents.length * rowSize);
  for (let i = 0; i < parents.length; i++) {
    out.set(src.subarray(parents[i] * rowSize, (parents[i] + 1) * rowSize), i * rowSize);
  }
  return out;
}

function isIdentity(parents: number[], rows: number): boolean {
  if (parents.length !== rows) return false;
  for (let i = 0; i < rows; i++) if (parents[i] !== i) return false;
  return true;
}

function normalizedScore(score: number, length: number, penalty: number): number {
  return score / Math.pow(Math.max(length, 1), penalty);
}

export async function generate(step: StepFn, reqs: GenRequest[], cfg: GenerateConfig): Promise<GenResult[]> {
  const V = cfg.vocabSize;
  const items: ItemState[] = reqs.map((req) => ({
    req,
    done: false,
    reason: 'length',
    result: [],
    finished: [],
    rng: req.options.sample ? new Rng(req.options.seed ?? Math.floor(Math.random() * 2 ** 32)) : null,
  }));
  const scratch = new Float64Array(V);

  // Prefill: one row per request, left-padded to the longest prompt.
  const promptLen = Math.max(...reqs.map((r) => r.promptIds.length));
  let rows: Row[] = reqs.map((r, i) => ({ item: i, tokens: [], score: 0, pad: promptLen - r.promptIds.length, realLen: r.promptIds.length }));
  const maxNew = Math.max(...reqs.map((r) => r.options.maxNewTokens));
  const maxRows = reqs.reduce((n, r) => n + Math.max(1, r.options.beams), 0);
  const maxTotal = promptLen + maxNew;
  // Buffers sized once for the whole batch (no per-step growth of our own allocations).
  const maskBuf = new BigInt64Array(maxRows * maxTotal);
  const idsBuf = new BigInt64Array(Math.max(maxRows, reqs.length * promptLen));
  const posBuf = new BigInt64Array(Math.max(maxRows, reqs.length * promptLen));
  const modBuf = new Int32Array(maxRows);

  const fillMask = (T: number) => {
    const mask = maskBuf.subarray(0, rows.length * T);
    for (let r = 0; r < rows.length; r++) {
      const pad = rows[r].pad;
      for (let t = 0; t < T; t++) mask[r * T + t] = t < pad ? 0n : 1n;
    }
    return mask;
  };

  const inputIds = idsBuf.subarray(0, reqs.length * promptLen);
  const positionIds = posBuf.subarray(0, reqs.length * promptLen);
  reqs.forEach((r, i) => {
    const pad = promptLen - r.promptIds.length;
    for (let t = 0; t < promptLen; t++) {
      inputIds[i * promptLen + t] = BigInt(t < pad ? cfg.padId : r.promptIds[t - pad]);
      positionIds[i * promptLen + t] = BigInt(Math.max(0, t - pad));
    }
    modBuf[i] = r.module;
  });
  let result = await step({
    rows: rows.length,
    seqLen: promptLen,
    pastLen: 0,
    inputIds,
    attentionMask: fillMask(promptLen),
    positionIds,
    modules: modBuf.subarray(0, rows.length),
    past: null,
  });
  let pastLen = promptLen;

  for (;;) {
    // Selection: every live item turns its rows' logits into its next rows.
    const next: Array<{ parent: number; token: number; score: number }> = [];
    const byItem = new Map<number, number[]>();
    rows.forEach((row, r) => {
      const list = byItem.get(row.item);
      if (list) list.push(r);
      else byItem.set(row.item, [r]);
    });
    for (const [itemIndex, rowIdx] of byItem) {
      const item = items[itemIndex];
      const o = item.req.options;
      const banned = o.ignoreEos ? cfg.eosId : -1;
      const generated = rows[rowIdx[0]].tokens.length + 1;
      if (item.req.signal?.aborted) {
        item.done = true;
        item.reason = 'aborted';
        item.result = rows[rowIdx[0]].tokens;
        continue;
      }
      if (o.beams <= 1) {
        const r = rowIdx[0];
        const token = item.rng ? sampleRow(result.logits, r, V, { temperature: o.temperature, topP: o.topP, banned }, item.rng, scratch) : argmax(result.logits, r, V, banned);
        if (token === cfg.eosId) {
          item.done = true;
          item.reason = 'eos';
          item.result = rows[r].tokens;
        } else if (generated >= o.maxNewTokens) {
          item.done = true;
          item.reason = 'length';
          item.result = [...rows[r].tokens, token];
        } else {
          next.push({ parent: r, token, score: 0 });
        }
        continue;
      }
      selectBeams(item, rowIdx, rows, result.logits, V, cfg.eosId, banned, generated, scratch, next);
    }
    const live = next.filter((n) => !items[rows[n.parent].item].done);
    if (live.length === 0) break;

    // Compact the KV cache to the surviving rows, in their new order.
    const parents = live.map((n) => n.parent);
    let past = result.present;
    if (!isIdentity(parents, rows.length)) {
      const rowSize = cfg.kvHeads * pastLen * cfg.headDim;
      past = past.map((t) => gatherRows(t, rowSize, parents));
    }
    rows = live.map((n) => {
      const parent = rows[n.parent];
      return { item: parent.item, tokens: [...parent.tokens, n.token], score: n.score, pad: parent.pad, realLen: parent.realLen + 1 };
    });

    const ids = idsBuf.subarray(0, rows.length);
    const pos = posBuf.subarray(0, rows.length);
    rows.forEach((row, r) => {
      ids[r] = BigInt(row.tokens[row.tokens.length - 1]);
      pos[r] = BigInt(row.realLen - 1);
      modBuf[r] = items[row.item].req.module;
    });
    result = await step({
      rows: rows.length,
      seqLen: 1,
      pastLen,
      inputIds: ids,
      attentionMask: fillMask(pastLen + 1),
      positionIds: pos,
      modules: modBuf.subarray(0, rows.length),
      past,
    });
    pastLen += 1;
  }
  return items.map((it) => ({ tokens: it.result, finishReason: it.reason }));
}

/**
 * One beam-search step for one item (Hugging Face semantics, early_stopping=False): from the
 * top 2k continuations of its k rows, EOS among the top k ranks closes a hypothesis scored
 * logprob / length^lengthPenalty; the best k others continue. The item is done when k
 * hypotheses are closed and no live beam can beat the worst of them, or at maxNewTokens.
 */
function selectBeams(
  item: ItemState,
  rowIdx: number[],
  rows: Row[],
  logits: Float32Array,
  V: number,
  eosId: number,
  banned: number,
  generated: number,
  scratch: Float64Array,
  next: Array<{ parent: number; token: number; score: number }>,
): void {
  const o = item.req.options;
  const k = o.beams;
  const candidates: Array<{ parent: number; token: number; score: number }> = [];
  for (const r of rowIdx) {
    logSoftmaxRow(logits, r, V, scratch);
    if (banned >= 0) scratch[banned] = -Infinity;
    for (const c of topK(scratch, 2 * k)) candidates.push({ parent: r, token: c.index, score: rows[r].score + c.value });
  }
  candidates.sort((a, b) => b.score - a.score || a.parent - b.parent || a.token - b.token);
  const chosen: typeof candidates = [];
  for (let rank = 0; rank < candidates.length && chosen.length < k; rank++) {
    const c = candidates[rank];
    if (c.token === eosId) {
      if (rank < k) item.finished.push({ tokens: rows[c.parent].tokens, score: normalizedScore(c.score, generated, o.lengthPenalty) });
      continue;
    }
    chosen.push(c);
  }
  item.finished.sort((a, b) => b.score - a.score);
  if (item.finished.length > k) item.finished.length = k;

  const atLimit = generated >= o.maxNewTokens;
  const bestLive = chosen.length ? normalizedScore(chosen[0].score, generated, o.lengthPenalty) : -Infinity;
  const closed = item.finished.length >= k && item.finished[item.finished.length - 1].score >= bestLive;
  if (atLimit || closed || chosen.length === 0) {
    const pool = [...item.finished.map((f) => ({ ...f, reason: 'eos' as FinishReason }))];
    if (!closed) {
      for (const c of chosen) pool.push({ tokens: [...rows[c.parent].tokens, c.token], score: normalizedScore(c.score, generated, o.lengthPenalty), reason: 'length' });
    }
    pool.sort((a, b) => b.score - a.score);
    item.done = true;
    item.result = pool[0]?.tokens ?? [];
    item.reason = pool[0]?.reason ?? 'length';
    return;
  }
  for (const c of chosen) next.push(c);
}
