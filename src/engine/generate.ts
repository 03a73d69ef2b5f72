/**
 * Continuous batching (vLLM's iteration-level scheduling) over a slot-based KV cache. Requests
 * are `submit`ted at any time; one loop runs, and each turn of it is:
 *   1. schedule: admit waiting requests, oldest first, while the token budget (prompt +
 *      maxNewTokens per row, reserved at admission, beams count as rows) and the row cap allow
 *      and their step is the running one (single/merged modes: one module per batch);
 *   2. execute: prefill the admitted prompts in one right-padded step (at most
 *      `maxPrefillTokens` prompt tokens per turn, so new prompts never stall running rows for
 *      long; a prompt whose head is in the prefix cache gets a step of its own from there),
 *      then one decode step for every running row;
 *   3. update: append tokens, finish rows (EOS, length, abort), resolve them at once and give
 *      their slots to the remaining rows.
 * A request that arrives during a step joins at the next turn; a finished one leaves at once.
 * Each request owns one row (greedy, sampling) or `beams` rows (beam search, HF semantics).
 *
 * The model is reached only through `StepFn` (made by the mode runners, modes.ts), which reads
 * and writes the KV cache in place (kv-cache.ts).
 */
import type { DecodingOptions, FinishReason } from './types.ts';
import { argmax, logSoftmaxRow, sampleRow, topK } from './decoding.ts';
import { Rng } from '../model/random.ts';
import { KvCache, type KvShape } from './kv-cache.ts';
import { PrefixCache } from './prefix-cache.ts';
import { XalmaError, isXalmaError } from '../errors.ts';
import type { Manifest } from '../model/manifest-types.ts';

export interface GenRequest {
  promptIds: number[];
  options: DecodingOptions;
  /** Group id of this row's module (all mode maps it to its stacked slot); ignored by single-module runners. */
  module: number;
  signal?: AbortSignal;
  /**
   * Leading prompt tokens that every prompt of its language pair shares (the prompt head): with
   * a prefix cache, the first such prompt keeps their keys and values and later ones on the
   * same module are prefilled after them. 0 or absent: none.
   */
  prefixLength?: number;
  /** Each token as it is chosen (greedy and sampling; beam search settles only at the end). */
  onToken?: (token: number) => void;
}

export interface GenResult {
  tokens: number[];
  finishReason: FinishReason;
}

/** One model call over rows in slots firstSlot..firstSlot+rows-1 of `kv`. */
export interface StepBatch {
  rows: number;
  seqLen: number;
  inputIds: BigInt64Array; // [rows, seqLen], right-padded
  positionIds: BigInt64Array; // [rows, seqLen]
  /** Positions already in the cache per row (the new keys go from there). */
  pastLens: Int32Array;
  /** Real (not padding) new positions per row. */
  newLens: Int32Array;
  /** Flattened [rows * seqLen] index of each row's last real position (its logits). */
  logitsIndex: BigInt64Array;
  modules: Int32Array; // [rows]
  firstSlot: number;
  kv: KvCache;
}

export interface StepResult {
  /** [rows, vocab]: logits of each row's last real position. */
  logits: Float32Array;
}

export type StepFn = (batch: StepBatch) => Promise<StepResult>;

export interface GenerateConfig extends KvShape {
  vocabSize: number;
  eosId: number;
  padId: number;
  /** The model's context: the cache never grows past it. */
  maxPositions: number;
}

/** What the loop needs to know of a model. */
export function generateConfig(manifest: Manifest): GenerateConfig {
  const { dims, tokenizer } = manifest;
  return { vocabSize: dims.vocabSize, eosId: tokenizer.eosId, padId: tokenizer.padId, layers: dims.numLayers, kvHeads: dims.numKvHeads, headDim: dims.headDim, maxPositions: dims.maxPositions };
}

export interface LoopLimits {
  /** Most rows in one step (beams count). */
  maxRows: number;
  /** Most tokens reserved by running rows (prompt + maxNewTokens each). */
  maxBatchTokens: number;
  /** Most prompt tokens prefilled per turn (one prompt always goes, whatever its length). */
  maxPrefillTokens: number;
  /** Bytes of prompt heads' keys and values kept (prefix-cache.ts); 0 or absent: no prefix cache. */
  prefixCacheBytes?: number;
}

export const DEFAULT_LIMITS: LoopLimits = { maxRows: 32, maxBatchTokens: 32 * 1024, maxPrefillTokens: 1024, prefixCacheBytes: 256 * 1024 ** 2 };

export interface LoopStats {
  /** Model calls: prefill steps and decode steps. */
  prefills: number;
  decodes: number;
  /** Rows over all decode steps (decodeRows / decodes = mean decode batch). */
  decodeRows: number;
  /** Wall time inside model steps (the engine's busy time). */
  stepMs: number;
  /** Prompts prefilled after a cached head, and the head tokens they did not recompute. */
  prefixHits: number;
  prefixTokens: number;
}

interface ItemState {
  req: GenRequest;
  step: StepFn;
  /** Tokens reserved in the budget once admitted. */
  reserve: number;
  admitted: boolean;
  done: boolean;
  finished: Array<{ tokens: number[]; score: number }>;
  rng: Rng | null;
  resolve(r: GenResult): void;
  reject(e: unknown): void;
}

interface Row {
  item: ItemState;
  /** Generated so far; the last one is fed at the next decode step. */
  tokens: number[];
  /** Sum of log-probabilities (beam search). */
  score: number;
  /** Positions in the cache (prompt + fed tokens). */
  len: number;
}

/** A row of the next turn and the slot whose cache it continues. */
interface NextRow {
  row: Row;
  parent: number;
}

function normalizedScore(score: number, length: number, penalty: number): number {
  return score / Math.pow(Math.max(length, 1), penalty);
}

export class StepLoop {
  private readonly waiting: ItemState[] = [];
  /** rows[i] lives in KV slot i. */
  private rows: Row[] = [];
  private reserved = 0;
  private loop: Promise<void> | null = null;
  private readonly kv: KvCache;
  private readonly scratch: Float64Array;
  private readonly prefixes: PrefixCache | null;
  readonly stats: LoopStats = { prefills: 0, decodes: 0, decodeRows: 0, stepMs: 0, prefixHits: 0, prefixTokens: 0 };

  constructor(
    private readonly cfg: GenerateConfig,
    private readonly limits: LoopLimits = DEFAULT_LIMITS,
  ) {
    this.kv = new KvCache(cfg, cfg.maxPositions);
    this.scratch = new Float64Array(cfg.vocabSize);
    this.prefixes = limits.prefixCacheBytes ? new PrefixCache(limits.prefixCacheBytes) : null;
  }

  /** Rows running now and requests waiting to join. */
  get load(): { running: number; waiting: number; reservedTokens: number } {
    return { running: this.rows.length, waiting: this.waiting.length, reservedTokens: this.reserved };
  }

  /**
   * Queues one request on `step` (rows with the same step run together). The prompt plus
   * maxNewTokens must fit the model's context (the caller clamps maxNewTokens).
   */
  submit(req: GenRequest, step: StepFn): Promise<GenResult> {
    if (req.promptIds.length + req.options.maxNewTokens > this.cfg.maxPositions || req.promptIds.length === 0) {
      return Promise.reject(new XalmaError('INTERNAL_ERROR', `a row of ${req.promptIds.length} + ${req.options.maxNewTokens} tokens does not fit ${this.cfg.maxPositions}`));
    }
    return new Promise<GenResult>((resolve, reject) => {
      this.waiting.push({
        req,
        step,
        reserve: (req.promptIds.length + req.options.maxNewTokens) * Math.max(1, req.options.beams),
        admitted: false,
        done: false,
        finished: [],
        rng: req.options.sample ? new Rng(req.options.seed ?? Math.floor(Math.random() * 2 ** 32)) : null,
        resolve,
        reject,
      });
      this.loop ??= this.run().finally(() => (this.loop = null));
    });
  }

  private async run(): Promise<void> {
    // Let the rest of a burst (its other messages, already queued) arrive before the first prefill.
    await new Promise((resolve) => setImmediate(resolve));
    while (this.rows.length > 0 || this.waiting.length > 0) {
      const admitted = this.admit();
      if (admitted.length > 0) await this.guard(admitted, () => this.prefill(admitted));
      if (this.rows.length > 0) await this.guard(this.rows.map((r) => r.item), () => this.decode());
    }
    this.kv.release();
  }

  /** Runs a step; if it throws, its items fail and leave (the rest keep running). */
  private async guard(items: ItemState[], body: () => Promise<void>): Promise<void> {
    try {
      await body();
    } catch (err) {
      const error = isXalmaError(err) ? err : new XalmaError('INTERNAL_ERROR', 'a model step failed', undefined, { cause: err });
      const failed = new Set(items);
      for (const item of failed) this.settle(item, error);
      this.arrange(this.rows.flatMap((row, slot) => (failed.has(row.item) ? [] : [{ row, parent: slot }])));
    }
  }

  /** Moves waiting requests into the batch, oldest first, within the limits. */
  private admit(): ItemState[] {
    const admitted: ItemState[] = [];
    let rows = this.rows.length;
    let prefill = 0;
    while (this.waiting.length > 0) {
      const item = this.waiting[0];
      if (item.req.signal?.aborted) {
        this.waiting.shift();
        this.settle(item, { tokens: [], finishReason: 'aborted' });
        continue;
      }
      const running = this.rows.length + admitted.length > 0;
      const step = this.rows[0]?.item.step ?? admitted[0]?.step;
      const beams = Math.max(1, item.req.options.beams);
      const prompt = item.req.promptIds.length;
      if (running) {
        if (step !== item.step) break; // another module: waits until this batch drains
        if (rows + beams > this.limits.maxRows) break;
        if (this.reserved + item.reserve > this.limits.maxBatchTokens) break;
        if (prefill + prompt > this.limits.maxPrefillTokens) break;
      }
      this.waiting.shift();
      admitted.push(item);
      rows += beams;
      prefill += prompt;
      item.admitted = true;
      this.reserved += item.reserve;
    }
    return admitted;
  }

  /**
   * Prefills the admitted prompts into slots from rows.length on. Prompts whose head is in the
   * prefix cache start from it, each in its own step (onnxruntime's GroupQueryAttention takes a
   * multi-token step over a past at batch 1 only); the others run as one right-padded step,
   * and the heads they bring are kept for the next prompts of their pair.
   */
  private async prefill(admitted: ItemState[]): Promise<void> {
    const first = this.rows.length;
    // Each prompt's head key (null: no cache, or no head), built once for the lookup and the store.
    const keyed = admitted.map((it) => {
      const n = it.req.prefixLength ?? 0;
      const key = this.prefixes && n > 0 && n < it.req.promptIds.length ? PrefixCache.key(it.req.module, it.req.promptIds, n) : null;
      return { it, key, head: key ? this.prefixes!.get(key) : undefined };
    });
    const fresh = keyed.filter((k) => !k.head).map(({ it, key }) => ({ it, key }));
    const hits = keyed.flatMap(({ it, head }) => (head ? [{ it, head }] : []));
    const items = [...fresh, ...hits].map((x) => x.it);
    const need = Math.max(...items.map((it) => it.req.promptIds.length + it.req.options.maxNewTokens), ...this.rows.map((r) => r.len + r.item.req.options.maxNewTokens - r.tokens.length + 1));
    this.kv.ensure(first + items.length, need, this.rows.map((r) => r.len));
    const V = this.cfg.vocabSize;
    const logits = new Float32Array(items.length * V);
    const started = performance.now();
    if (fresh.length > 0) {
      const out = await this.prefillStep(fresh.map(({ it }) => it.req.promptIds), 0, first, fresh[0].it.step, fresh.map(({ it }) => it.req.module));
      logits.set(out.subarray(0, fresh.length * V));
      fresh.forEach(({ it, key }, r) => {
        if (key && !this.prefixes!.has(key)) this.prefixes!.set(key, { len: it.req.prefixLength!, rows: this.kv.readRow(first + r, it.req.prefixLength!) });
      });
    }
    for (const [j, { it, head }] of hits.entries()) {
      const slot = first + fresh.length + j;
      this.kv.writeRow(slot, head.rows, head.len);
      const out = await this.prefillStep([it.req.promptIds.slice(head.len)], head.len, slot, it.step, [it.req.module]);
      logits.set(out.subarray(0, V), (fresh.length + j) * V);
      this.stats.prefixHits++;
      this.stats.prefixTokens += head.len;
    }
    this.stats.stepMs += performance.now() - started;
    this.stats.prefills++;
    this.rows.push(...items.map((item) => ({ item, tokens: [], score: 0, len: item.req.promptIds.length })));
    this.select(first, logits);
  }

  /** One right-padded prompt step: `prompts` after `past` cached positions each, into slots from `slot`. */
  private async prefillStep(prompts: number[][], past: number, slot: number, step: StepFn, modules: number[]): Promise<Float32Array> {
    const k = prompts.length;
    const S = Math.max(...prompts.map((p) => p.length));
    const inputIds = new BigInt64Array(k * S);
    const positionIds = new BigInt64Array(k * S);
    const logitsIndex = new BigInt64Array(k);
    prompts.forEach((ids, r) => {
      for (let t = 0; t < S; t++) {
        inputIds[r * S + t] = BigInt(t < ids.length ? ids[t] : this.cfg.padId);
        positionIds[r * S + t] = BigInt(past + t);
      }
      logitsIndex[r] = BigInt(r * S + ids.length - 1);
    });
    const newLens = Int32Array.from(prompts, (p) => p.length);
    const result = await step({ rows: k, seqLen: S, inputIds, positionIds, pastLens: new Int32Array(k).fill(past), newLens, logitsIndex, modules: Int32Array.from(modules), firstSlot: slot, kv: this.kv });
    return result.logits;
  }

  private async decode(): Promise<void> {
    const n = this.rows.length;
    const inputIds = new BigInt64Array(n);
    const positionIds = new BigInt64Array(n);
    const pastLens = new Int32Array(n);
    const newLens = new Int32Array(n).fill(1);
    const logitsIndex = new BigInt64Array(n);
    const modules = new Int32Array(n);
    this.rows.forEach((row, r) => {
      inputIds[r] = BigInt(row.tokens[row.tokens.length - 1]);
      positionIds[r] = BigInt(row.len);
      pastLens[r] = row.len;
      logitsIndex[r] = BigInt(r);
      modules[r] = row.item.req.module;
    });
    const started = performance.now();
    const result = await this.rows[0].item.step({ rows: n, seqLen: 1, inputIds, positionIds, pastLens, newLens, logitsIndex, modules, firstSlot: 0, kv: this.kv });
    this.stats.stepMs += performance.now() - started;
    this.stats.decodes++;
    this.stats.decodeRows += n;
    for (const row of this.rows) row.len++;
    this.select(0, result.logits);
  }

  /**
   * Selection for rows from..end (their logits are rows 0.. of `logits`): every item picks its
   * next rows or finishes; then the slots are rearranged for the next turn.
   */
  private select(from: number, logits: Float32Array): void {
    const V = this.cfg.vocabSize;
    const next: NextRow[] = [];
    for (let slot = 0; slot < from; slot++) next.push({ row: this.rows[slot], parent: slot });
    const byItem = new Map<ItemState, number[]>();
    for (let slot = from; slot < this.rows.length; slot++) {
      const item = this.rows[slot].item;
      const list = byItem.get(item);
      if (list) list.push(slot);
      else byItem.set(item, [slot]);
    }
    for (const [item, slots] of byItem) {
      const o = item.req.options;
      const first = this.rows[slots[0]];
      if (item.req.signal?.aborted) {
        this.settle(item, { tokens: first.tokens, finishReason: 'aborted' });
        continue;
      }
      const banned = o.ignoreEos ? this.cfg.eosId : -1;
      const generated = first.tokens.length + 1;
      if (o.beams <= 1) {
        const r = slots[0] - from;
        const token = item.rng ? sampleRow(logits, r, V, { temperature: o.temperature, topP: o.topP, banned }, item.rng, this.scratch) : argmax(logits, r, V, banned);
        if (token === this.cfg.eosId) {
          this.settle(item, { tokens: first.tokens, finishReason: 'eos' });
          continue;
        }
        first.tokens.push(token);
        item.req.onToken?.(token);
        if (generated >= o.maxNewTokens) {
          this.settle(item, { tokens: first.tokens, finishReason: 'length' });
          continue;
        }
        next.push({ row: first, parent: slots[0] });
        continue;
      }
      const chosen = this.selectBeams(item, slots, from, logits, banned, generated);
      for (const c of chosen) {
        const parent = this.rows[c.parent];
        next.push({ row: { item, tokens: [...parent.tokens, c.token], score: c.score, len: parent.len }, parent: c.parent });
      }
    }
    this.arrange(next);
  }

  /**
   * Puts the next turn's rows into slots 0..n-1: a row whose parent slot is free to keep stays
   * there; the others fill the holes with a copy of their parent's cache. No source is
   * overwritten before it is read: sources below n are kept in place, sources at n or above are
   * never destinations.
   */
  private arrange(next: NextRow[]): void {
    const n = next.length;
    const lens = this.rows.map((r) => r.len);
    this.kv.ensure(n, this.kv.capacity, lens);
    const placed: Array<Row | undefined> = new Array(n);
    const movers: NextRow[] = [];
    for (const entry of next) {
      if (entry.parent < n && !placed[entry.parent]) placed[entry.parent] = entry.row;
      else movers.push(entry);
    }
    let hole = 0;
    for (const m of movers) {
      while (placed[hole]) hole++;
      this.kv.copyRow(m.parent, hole, m.row.len);
      placed[hole] = m.row;
    }
    this.rows = placed as Row[];
  }

  /** Resolves (or fails) an item once; its budget is returned. */
  private settle(item: ItemState, result: GenResult | XalmaError): void {
    if (item.done) return;
    item.done = true;
    if (item.admitted) this.reserved -= item.reserve;
    if (result instanceof XalmaError) item.reject(result);
    else item.resolve(result);
  }

  /**
   * One beam-search step for one item (Hugging Face semantics, early_stopping=False): from the
   * top 2k continuations of its k rows, EOS among the top k ranks closes a hypothesis scored
   * logprob / length^lengthPenalty; the best k others continue. The item is done when k
   * hypotheses are closed and no live beam can beat the worst of them, or at maxNewTokens.
   */
  private selectBeams(item: ItemState, slots: number[], from: number, logits: Float32Array, banned: number, generated: number): Array<{ parent: number; token: number; score: number }> {
    const o = item.req.options;
    const k = o.beams;
    const V = this.cfg.vocabSize;
    const candidates: Array<{ parent: number; token: number; score: number }> = [];
    for (const slot of slots) {
      logSoftmaxRow(logits, slot - from, V, this.scratch);
      if (banned >= 0) this.scratch[banned] = -Infinity;
      for (const c of topK(this.scratch, 2 * k)) candidates.push({ parent: slot, token: c.index, score: this.rows[slot].score + c.value });
    }
    candidates.sort((a, b) => b.score - a.score || a.parent - b.parent || a.token - b.token);
    const chosen: typeof candidates = [];
    for (let rank = 0; rank < candidates.length && chosen.length < k; rank++) {
      const c = candidates[rank];
      if (c.token === this.cfg.eosId) {
        if (rank < k) item.finished.push({ tokens: this.rows[c.parent].tokens, score: normalizedScore(c.score, generated, o.lengthPenalty) });
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
      const pool = item.finished.map((f) => ({ ...f, reason: 'eos' as FinishReason }));
      if (!closed) {
        for (const c of chosen) pool.push({ tokens: [...this.rows[c.parent].tokens, c.token], score: normalizedScore(c.score, generated, o.lengthPenalty), reason: 'length' });
      }
      pool.sort((a, b) => b.score - a.score);
      this.settle(item, { tokens: pool[0]?.tokens ?? [], finishReason: pool[0]?.reason ?? 'length' });
      return [];
    }
    // The live beams; arrange() gives each a slot with its parent's cache.
    return chosen;
  }
}

/** Runs `reqs` on one step function to the end, all admitted at once (tests, benchmarks): a loop of its own. */
export async function generate(step: StepFn, reqs: GenRequest[], cfg: GenerateConfig): Promise<GenResult[]> {
  const maxRows = Math.max(DEFAULT_LIMITS.maxRows, reqs.reduce((n, r) => n + Math.max(1, r.options.beams), 0));
  const loop = new StepLoop(cfg, { maxRows, maxBatchTokens: Number.POSITIVE_INFINITY, maxPrefillTokens: Number.POSITIVE_INFINITY });
  return Promise.all(reqs.map((r) => loop.submit(r, step)));
}
