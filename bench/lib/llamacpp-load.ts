/**
 * Load drivers for llama.cpp in-process (node-llama-cpp), timed the way callLoad times any
 * request (send -> last token), so their figures sit beside httpLoad's for our server:
 *   - `llamaGenerate`: `concurrency` workers, each owning one sequence of a context; a request
 *     clears its sequence, evaluates the prompt ids and takes exactly `newTokens` greedy tokens
 *     (EOS yielded and generation continued: `yieldEogToken`, so every request does the same work);
 *   - `llamaPrefill`: `rows` prompts evaluated at once on `rows` sequences, no token generated.
 * Sequences of one context are batched by node-llama-cpp into one llama_decode per step.
 */
import { callLoad } from './load.ts';
import type { RunFigures } from './stats.ts';
import type { LlamaContext, LlamaSequence } from './llamacpp.ts';

export interface LlamaGenerateOptions {
  /** Context per request index (one per group for mixed traffic); each has >= its share of sequences. */
  contextFor: (i: number) => LlamaContext;
  pool: SequencePool;
  concurrency: number;
  requests: number;
  promptIds: (i: number) => number[];
  newTokens: number;
}

/**
 * Free sequences per context: a worker borrows one for a request and gives it back. Made once
 * per context and reused across runs: a disposed sequence's id returns to its context only
 * asynchronously, so taking fresh ones per run fails with "No sequences left".
 */
export class SequencePool {
  private readonly free = new Map<LlamaContext, LlamaSequence[]>();
  private readonly waiting = new Map<LlamaContext, Array<(s: LlamaSequence) => void>>();
  constructor(contexts: LlamaContext[], perContext: number) {
    for (const c of contexts) {
      this.free.set(c, Array.from({ length: perContext }, () => c.getSequence()));
      this.waiting.set(c, []);
    }
  }
  /** A free sequence of `c`; waits for one when all are busy (mixed traffic may pile onto a group). */
  take(c: LlamaContext): Promise<LlamaSequence> {
    const s = this.free.get(c)!.pop();
    return s ? Promise.resolve(s) : new Promise((resolve) => this.waiting.get(c)!.push(resolve));
  }
  give(c: LlamaContext, s: LlamaSequence): void {
    const next = this.waiting.get(c)!.shift();
    if (next) next(s);
    else this.free.get(c)!.push(s);
  }
  dispose(): void {
    for (const list of this.free.values()) for (const s of list) s.dispose();
  }
}

async function generateOne(seq: LlamaSequence, ids: number[], newTokens: number): Promise<number> {
  await seq.clearHistory();
  let n = 0;
  for await (const _token of seq.evaluate(ids, { temperature: 0, yieldEogToken: true })) {
    if (++n >= newTokens) break;
  }
  return n;
}

/** Sequences each context must offer for a run (the most in flight on one context). */
export function sequencesNeeded(concurrency: number, contexts: number): number {
  return Math.ceil(concurrency / contexts);
}

export async function llamaGenerate(opts: LlamaGenerateOptions): Promise<RunFigures> {
  const { pool } = opts;
  return callLoad({
    concurrency: opts.concurrency,
    requests: opts.requests,
    newTokens: opts.newTokens,
    call: async (i) => {
      const ctx = opts.contextFor(i);
      const seq = await pool.take(ctx);
      try {
        return await generateOne(seq, opts.promptIds(i), opts.newTokens);
      } finally {
        pool.give(ctx, seq);
      }
    },
  });
}

/** Prompt tokens/s of `rows` prompts evaluated together (one wave), and the wall ms. */
export async function llamaPrefill(pool: SequencePool, ctx: LlamaContext, prompts: number[][]): Promise<{ tokensPerSec: number; wallMs: number; promptTokens: number }> {
  const seqs = await Promise.all(prompts.map(() => pool.take(ctx)));
  try {
    await Promise.all(seqs.map((s) => s.clearHistory()));
    const t0 = performance.now();
    await Promise.all(seqs.map((s, i) => s.evaluateWithoutGeneratingNewTokens(prompts[i])));
    const wallMs = performance.now() - t0;
    const promptTokens = prompts.reduce((n, p) => n + p.length, 0);
    return { tokensPerSec: promptTokens / (wallMs / 1000), wallMs, promptTokens };
  } finally {
    for (const s of seqs) pool.give(ctx, s);
  }
}
