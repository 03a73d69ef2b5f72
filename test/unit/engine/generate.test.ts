/**
 * Batched generation (src/engine/generate.ts) on a hand-built StepFn whose next-token
 * probabilities are a table keyed by the tokens generated so far, so the right answer of greedy
 * and beam search can be worked out by hand.
 *
 * The fake model keeps each row's token ids in its KV cache (kv-cache.ts; 2 layers, 1 KV head,
 * head size 1: ids and prompt marks) and reads a row's generated tokens back from its slot. A
 * row whose cache is moved wrongly when beams fork or rows leave sees another history and
 * answers differently, and a position id or logits index that does not count the row's own
 * tokens throws, so the answers also pin the slot bookkeeping.
 */
import { describe, expect, it } from 'vitest';
import { StepLoop, generate, type GenerateConfig, type GenRequest, type StepBatch, type StepFn } from '../../../src/engine/generate.ts';
import { DEFAULT_DECODING, type DecodingOptions } from '../../../src/engine/types.ts';

const PAD = 0;
const BOS = 1;
const EOS = 2;
const [A, B, C, D] = [3, 4, 5, 6];
const V = 7;
const CFG: GenerateConfig = { vocabSize: V, eosId: EOS, padId: PAD, layers: 2, kvHeads: 1, headDim: 1, maxPositions: 64 };
/** Log-probability given to every token a table row does not list. */
const UNLISTED = Math.log(1e-6);

/** Next-token probabilities by the generated tokens so far (the prompt is ignored), e.g. 'A,B'. */
type Table = Record<string, Partial<Record<number, number>>>;

interface FakeModel {
  step: StepFn;
  /** The rows of every step (1 per request at prefill, then live rows / beams). */
  rowsPerStep: number[];
}

function fakeModel(table: Table, opts: { onStep?: (stepIndex: number) => void } = {}): FakeModel {
  const rowsPerStep: number[] = [];
  const step: StepFn = async (b: StepBatch) => {
    opts.onStep?.(rowsPerStep.length);
    rowsPerStep.push(b.rows);
    const S = b.seqLen;
    // Layer 0 keeps the fed token ids, layer 1 marks prompt positions (fed by a prefill).
    const ids = new Float32Array(b.rows * S);
    const marks = new Float32Array(b.rows * S);
    for (let r = 0; r < b.rows; r++) {
      for (let t = 0; t < b.newLens[r]; t++) {
        // A token's position id is the number of tokens of its row before it.
        const pos = Number(b.positionIds[r * S + t]);
        if (pos !== b.pastLens[r] + t) throw new Error(`row ${r}: position ${pos}, expected ${b.pastLens[r] + t}`);
        ids[r * S + t] = Number(b.inputIds[r * S + t]);
        marks[r * S + t] = b.pastLens[r] === 0 ? 1 : 0;
      }
      if (Number(b.logitsIndex[r]) !== r * S + b.newLens[r] - 1) throw new Error(`row ${r}: logits of position ${b.logitsIndex[r]}`);
    }
    b.kv.write(0, 'key', b.firstSlot, ids, S, b.pastLens, b.newLens);
    b.kv.write(1, 'key', b.firstSlot, marks, S, b.pastLens, b.newLens);
    const logits = new Float32Array(b.rows * V);
    for (let r = 0; r < b.rows; r++) {
      const len = b.pastLens[r] + b.newLens[r];
      const cached = b.kv.view(0, 'key', b.firstSlot + r, 1).subarray(0, len);
      const prompt = b.kv.view(1, 'key', b.firstSlot + r, 1).subarray(0, len);
      const generated = Array.from(cached).filter((_, t) => prompt[t] === 0);
      const probs = table[generated.join(',')] ?? {};
      for (let v = 0; v < V; v++) logits[r * V + v] = probs[v] === undefined ? UNLISTED : Math.log(probs[v]!);
    }
    return { logits };
  };
  return { step, rowsPerStep };
}

const opts = (o: Partial<DecodingOptions>): DecodingOptions => ({ ...DEFAULT_DECODING, ...o });
const req = (o: Partial<DecodingOptions>, promptIds = [BOS, D], signal?: AbortSignal): GenRequest => ({ promptIds, options: opts(o), module: 1, signal });

async function run(table: Table, reqs: GenRequest[]) {
  return generate(fakeModel(table).step, reqs, CFG);
}

/**
 * Greedy takes A (0.55) and then the best after A (0.36): 0.198. B (0.45) then C (0.9) is 0.405,
 * which only a search that keeps B alive finds.
 */
const GREEDY_MISSES: Table = {
  '': { [A]: 0.55, [B]: 0.45 },
  [A]: { [A]: 0.36, [B]: 0.34, [C]: 0.3 },
  [B]: { [C]: 0.9, [A]: 0.1 },
};

describe('generate: greedy', () => {
  it('takes the most likely token at every step', async () => {
    const [r] = await run(GREEDY_MISSES, [req({ maxNewTokens: 2 })]);
    expect(r).toEqual({ tokens: [A, A], finishReason: 'length' });
  });

  it('stops at EOS without returning it, or at maxNewTokens', async () => {
    const table: Table = { '': { [A]: 0.9 }, [A]: { [B]: 0.9 }, [`${A},${B}`]: { [EOS]: 0.9 } };
    expect((await run(table, [req({ maxNewTokens: 10 })]))[0]).toEqual({ tokens: [A, B], finishReason: 'eos' });
    expect((await run(table, [req({ maxNewTokens: 1 })]))[0]).toEqual({ tokens: [A], finishReason: 'length' });
  });

  it('with ignoreEos never picks EOS and generates exactly maxNewTokens', async () => {
    const table: Table = { '': { [EOS]: 0.9, [D]: 0.05 } };
    const [r] = await run(table, [req({ maxNewTokens: 3, ignoreEos: true })]);
    expect(r.tokens).toHaveLength(3);
    expect(r.tokens).not.toContain(EOS);
    expect(r.finishReason).toBe('length');
  });
});

describe('generate: beam search', () => {
  it('finds the sequence a greedy search misses', async () => {
    const [r] = await run(GREEDY_MISSES, [req({ maxNewTokens: 2, beams: 2 })]);
    expect(r).toEqual({ tokens: [B, C], finishReason: 'length' });
  });

  it('returns a hypothesis closed by EOS when it beats the live beams, without the EOS token', async () => {
    // A then EOS: 0.48 * 0.99 = 0.475 over 2 tokens; B, C, ... stays below it per token.
    const table: Table = {
      '': { [B]: 0.52, [A]: 0.48 },
      [A]: { [EOS]: 0.99 },
      [B]: { [C]: 0.5, [D]: 0.49 },
      [`${B},${C}`]: { [A]: 0.99 },
      [`${B},${D}`]: { [A]: 0.99 },
    };
    const [greedy] = await run(table, [req({ maxNewTokens: 3 })]);
    expect(greedy.tokens[0]).toBe(B);
    const [beam] = await run(table, [req({ maxNewTokens: 3, beams: 2 })]);
    expect(beam).toEqual({ tokens: [A], finishReason: 'eos' });
  });

  it('a larger length penalty prefers the longer hypothesis (score / length^penalty)', async () => {
    // Same table: A+EOS scores ln(0.475) = -0.74 over 2 tokens, B,C,A ln(0.2574) = -1.36 over 3.
    // penalty 1: -0.37 vs -0.45, the short one wins; penalty 2: -0.19 vs -0.15, the long one.
    const table: Table = {
      '': { [B]: 0.52, [A]: 0.48 },
      [A]: { [EOS]: 0.99 },
      [B]: { [C]: 0.5, [D]: 0.49 },
      [`${B},${C}`]: { [A]: 0.99 },
      [`${B},${D}`]: { [A]: 0.99 },
    };
    expect((await run(table, [req({ maxNewTokens: 3, beams: 2, lengthPenalty: 1 })]))[0].tokens).toEqual([A]);
    expect((await run(table, [req({ maxNewTokens: 3, beams: 2, lengthPenalty: 2 })]))[0]).toEqual({ tokens: [B, C, A], finishReason: 'length' });
  });

  it('keeps `beams` rows per request while it searches', async () => {
    const model = fakeModel(GREEDY_MISSES);
    await generate(model.step, [req({ maxNewTokens: 3, beams: 3 })], CFG);
    expect(model.rowsPerStep).toEqual([1, 3, 3]);
  });
});

describe('generate: batches', () => {
  it('a batch of greedy and beam requests with prompts of different lengths gives each its result alone', async () => {
    const table: Table = { ...GREEDY_MISSES, [`${B},${C}`]: { [A]: 0.9 }, [`${A},${A}`]: { [D]: 0.9 } };
    const reqs = [
      req({ maxNewTokens: 2, beams: 2 }, [BOS, 3, 4, 5, 6]),
      req({ maxNewTokens: 2 }, [BOS]),
      req({ maxNewTokens: 3, beams: 3 }, [BOS, 5]),
      req({ maxNewTokens: 1 }, [BOS, 6, 6]),
    ];
    const alone = [];
    for (const r of reqs) alone.push((await run(table, [r]))[0]);
    expect(alone.map((r) => r.tokens)).toEqual([[B, C], [A, A], [B, C, A], [A]]);
    expect(await run(table, reqs)).toEqual(alone);
  });

  it('a finished request leaves the batch: later steps run only the live rows', async () => {
    const model = fakeModel(GREEDY_MISSES);
    await generate(model.step, [req({ maxNewTokens: 1 }), req({ maxNewTokens: 3 })], CFG);
    expect(model.rowsPerStep).toEqual([2, 1, 1]);
  });

  it('an aborted request stops at the next step with what it has; the others run on', async () => {
    const controller = new AbortController();
    const model = fakeModel(GREEDY_MISSES, { onStep: (i) => i === 2 && controller.abort() });
    const [aborted, other] = await generate(model.step, [req({ maxNewTokens: 5, ignoreEos: true }, undefined, controller.signal), req({ maxNewTokens: 5, ignoreEos: true })], CFG);
    // Steps 0 and 1 gave it two tokens; the abort during step 2 is seen when step 2's logits are read.
    expect(aborted).toEqual({ tokens: [A, A], finishReason: 'aborted' });
    expect(other.tokens).toHaveLength(5);
    expect(model.rowsPerStep).toEqual([2, 2, 2, 1, 1]);
  });
});

describe('continuous batching (StepLoop)', () => {
  const LONG: Table = {};
  const ignore = (maxNewTokens: number, promptIds = [BOS, D]) => req({ maxNewTokens, ignoreEos: true }, promptIds);

  it('a request submitted while others decode joins at the next step and settles as soon as it is done', async () => {
    const order: string[] = [];
    const loop = new StepLoop(CFG, { maxRows: 8, maxBatchTokens: 1000, maxPrefillTokens: 1000 });
    let late: Promise<unknown> | null = null;
    const model = fakeModel(LONG, {
      onStep: (i) => {
        if (i === 2) late = loop.submit(ignore(2), model.step).then(() => order.push('late'));
      },
    });
    const early = loop.submit(ignore(8), model.step).then((r) => order.push(`early:${r.tokens.length}`));
    await early;
    await late;
    expect(order).toEqual(['late', 'early:8']);
    // prefill(1), decode(1), decode(1) during which it arrives, then its prefill(1), shared decodes (2), the long row alone again.
    expect(model.rowsPerStep.slice(0, 5)).toEqual([1, 1, 1, 1, 2]);
    expect(model.rowsPerStep.at(-1)).toBe(1);
  });

  it('admits by reserved tokens: a request that does not fit the budget waits for a running one to finish', async () => {
    // Each reserves 2 prompt + 3 new = 5 tokens; a budget of 10 runs two at a time.
    const loop = new StepLoop(CFG, { maxRows: 8, maxBatchTokens: 10, maxPrefillTokens: 1000 });
    const model = fakeModel(LONG);
    const results = await Promise.all([0, 1, 2].map(() => loop.submit(ignore(3), model.step)));
    expect(results.map((r) => r.tokens.length)).toEqual([3, 3, 3]);
    expect(Math.max(...model.rowsPerStep)).toBe(2);
    expect(loop.load.reservedTokens).toBe(0);
  });

  it('caps the prompt tokens prefilled per turn (one prompt always goes)', async () => {
    const loop = new StepLoop(CFG, { maxRows: 8, maxBatchTokens: 1000, maxPrefillTokens: 5 });
    const model = fakeModel(LONG);
    const prefillRows: number[] = [];
    const spy: StepFn = (b) => {
      if (b.pastLens.every((n) => n === 0)) prefillRows.push(b.rows);
      return model.step(b);
    };
    await Promise.all([[BOS, D, D], [BOS, D, D], [BOS, D, D, D, D, D, D]].map((p) => loop.submit(ignore(2, p), spy)));
    // 3 + 3 > 5: one prompt per turn; the 7-token prompt goes alone although it exceeds the cap.
    expect(prefillRows).toEqual([1, 1, 1]);
  });

  it('rows of different step functions (modules) never share a step; first come, first served', async () => {
    const loop = new StepLoop(CFG, { maxRows: 8, maxBatchTokens: 1000, maxPrefillTokens: 1000 });
    const trace: string[] = [];
    const a = fakeModel(LONG, { onStep: () => trace.push('a') });
    const b = fakeModel(LONG, { onStep: () => trace.push('b') });
    await Promise.all([loop.submit(ignore(3), a.step), loop.submit(ignore(3), b.step), loop.submit(ignore(2), a.step)]);
    // The third (module a again) does not jump the queue past b: no module starves.
    expect(trace.join('')).toMatch(/^a+b+a+$/);
    expect(Math.max(...a.rowsPerStep, ...b.rowsPerStep)).toBe(1);
  });

  it('a failing step fails its rows only; rows queued behind run afterwards', async () => {
    const loop = new StepLoop(CFG, { maxRows: 8, maxBatchTokens: 1000, maxPrefillTokens: 1000 });
    const good = fakeModel(LONG);
    const bad: StepFn = async () => {
      throw new Error('boom');
    };
    const [failed, fine] = await Promise.allSettled([loop.submit(ignore(2), bad), loop.submit(ignore(2), good.step)]);
    expect(failed.status).toBe('rejected');
    expect((failed as PromiseRejectedResult).reason).toMatchObject({ code: 'INTERNAL_ERROR' });
    expect(fine).toMatchObject({ status: 'fulfilled', value: { finishReason: 'length' } });
    expect(loop.load).toMatchObject({ running: 0, waiting: 0, reservedTokens: 0 });
  });
});
