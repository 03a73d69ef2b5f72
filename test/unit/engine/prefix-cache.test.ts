/**
 * The prompt-head cache (src/engine/prefix-cache.ts) on the default model package with real
 * onnxruntime sessions: a prompt prefilled after a cached head gives the logits of one whole
 * prefill, bit for bit; the engine uses the cache for the second prompt of a pair and on,
 * never across pairs or modules, with the same tokens as without it in every mode; the cache
 * keeps to its byte budget.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../../src/engine/engine.ts';
import { generateConfig } from '../../../src/engine/generate.ts';
import { KvCache } from '../../../src/engine/kv-cache.ts';
import { createRunner, stepWith, type ModeRunner } from '../../../src/engine/modes.ts';
import { mergedModeGraph } from '../../../src/engine/graphs.ts';
import { createSession, type Session } from '../../../src/engine/ort.ts';
import { checkedModuleFile } from '../../../src/lora/module-file.ts';
import { PrefixCache, commonPrefix } from '../../../src/engine/prefix-cache.ts';
import { DEFAULT_DECODING, type Engine, type LoadingMode, type TranslationItem } from '../../../src/engine/types.ts';
import { isXalmaError } from '../../../src/errors.ts';
import { loadModelPackage, type ModelPackage } from '../../../src/model/package.ts';
import { readSafetensorsHeader } from '../../../src/model/safetensors.ts';
import { DEFAULT_MODEL_DIR } from '../../../src/paths.ts';

let pkg: ModelPackage;
const runners: ModeRunner[] = [];
const engines: Engine[] = [];
beforeAll(async () => {
  pkg = await loadModelPackage(DEFAULT_MODEL_DIR);
});
afterAll(async () => {
  for (const r of runners) await r.close();
  for (const e of engines) await e.close();
});

const sessions: Session[] = [];
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
afterAll(async () => {
  for (const s of sessions) await s.release();
});

describe('a prefill after a cached head', () => {
  // 'merged'/'all': the engine's runners (GroupQueryAttention, as every real LLaMA gets);
  // 'append': the standard-attention layout that head sizes GQA refuses get, on the same model.
  for (const mode of ['merged', 'all', 'append'] as const) {
    it(`${mode === 'append' ? 'merged mode, standard attention' : `${mode} mode`}: gives the logits of a whole prefill${mode === 'append' ? ' within 1e-4' : ', bit for bit'} (3 rows, heads of 8, 5 and 1 tokens)`, async () => {
      const header = await readSafetensorsHeader(pkg.weightsPath);
      const groups = mode === 'all' ? [2, 5, 8] : [1, 1, 1];
      let step;
      if (mode === 'append') {
        const graph = mergedModeGraph(pkg, header, { module: await checkedModuleFile(pkg, 1, { verifyChecksum: false }) }, { kv: 'append', logits: 'index' });
        const session = await createSession(graph, { provider: 'cpu' }, pkg.dir);
        sessions.push(session);
        step = stepWith(session, pkg, () => {}, 'append');
      } else {
        const runner = await createRunner(mode, { pkg, header, session: { provider: 'cpu' }, maxResidentModules: 1, maxModuleBytes: 1024 ** 3, maxMergedSessions: 1, stackedKernel: 'grouped', verifyChecksums: false });
        runners.push(runner);
        step = (await runner.prepare([...new Set(groups)])).step;
      }
      const cfg = generateConfig(pkg.manifest);
      const V = cfg.vocabSize;
      const prompts = [Array.from({ length: 20 }, (_, i) => 10 + i * 7), Array.from({ length: 13 }, (_, i) => 300 + i * 3), Array.from({ length: 9 }, (_, i) => 50 + i)];
      const run = (kv: KvCache, slot: number, past: number[], parts: number[][]) => {
        const S = Math.max(...parts.map((p) => p.length));
        return step!({
          rows: parts.length, seqLen: S, firstSlot: slot, kv, modules: Int32Array.from(groups.slice(slot, slot + parts.length)),
          inputIds: BigInt64Array.from(parts.flatMap((p) => [...p, ...Array(S - p.length).fill(0)]), BigInt),
          positionIds: BigInt64Array.from(parts.flatMap((_, r) => Array.from({ length: S }, (_, i) => past[r] + i)), BigInt),
          pastLens: Int32Array.from(past), newLens: Int32Array.from(parts.map((p) => p.length)),
          logitsIndex: BigInt64Array.from(parts.map((p, r) => r * S + p.length - 1), BigInt),
        });
      };
      const whole = new KvCache(cfg, 64);
      whole.ensure(3, 64, []);
      const expected = (await run(whole, 0, [0, 0, 0], prompts)).logits.slice();
      // The heads prefilled together, read out and written into a fresh cache as the engine does.
      const heads = [8, 5, 1];
      const first = new KvCache(cfg, 64);
      first.ensure(3, 64, []);
      await run(first, 0, [0, 0, 0], prompts.map((p, r) => p.slice(0, heads[r])));
      const kv = new KvCache(cfg, 64);
      kv.ensure(3, 64, []);
      for (let r = 0; r < 3; r++) {
        kv.writeRow(r, first.readRow(r, heads[r]), heads[r]);
        const { logits } = await run(kv, r, [heads[r]], [prompts[r].slice(heads[r])]);
        if (mode !== 'append') expect(logits.subarray(0, V), `row ${r}`).toEqual(expected.subarray(r * V, (r + 1) * V));
        // Standard attention sums over the masked capacity, so only float rounding may differ.
        else expect(maxDiff(logits.subarray(0, V), expected.subarray(r * V, (r + 1) * V)), `row ${r}`).toBeLessThan(1e-4);
      }
      // And a wrong head (one position short) does not: the check can fail.
      const short = new KvCache(cfg, 64);
      short.ensure(1, 64, []);
      short.writeRow(0, first.readRow(0, heads[0] - 1), heads[0] - 1);
      const { logits } = await run(short, 0, [heads[0]], [prompts[0].slice(heads[0])]);
      expect(maxDiff(logits.subarray(0, V), expected.subarray(0, V))).toBeGreaterThan(1e-2);
    });
  }
});

const item = (text: string, sourceName = 'English', targetName = 'German', group = 1): TranslationItem => ({ group, sourceName, targetName, text, options: { ...DEFAULT_DECODING, maxNewTokens: 8 } });
const TEXTS = ['Good morning.', 'The committee will meet again on Tuesday.', 'Where is the station?', 'Thanks a lot!'];

async function texts(engine: Engine, items: TranslationItem[]): Promise<string[]> {
  const out: string[] = [];
  for (const it of items) {
    const [r] = await engine.translateBatch([it]);
    if (isXalmaError(r)) throw r;
    out.push(r.text);
  }
  return out;
}

describe('the engine with a prefix cache', () => {
  for (const mode of ['single', 'merged', 'all'] as LoadingMode[]) {
    it(`${mode} mode: later prompts of a pair start from its head, with the same tokens as with no cache`, async () => {
      const make = async (prefixCacheBytes: number) => {
        const e = await createEngine({ modelDir: DEFAULT_MODEL_DIR, mode, provider: 'cpu', verifyChecksums: false, limits: { prefixCacheBytes } });
        engines.push(e);
        return e;
      };
      const withCache = await make(64 * 1024 ** 2);
      const without = await make(0);
      const items = TEXTS.map((t) => item(t));
      const got = await texts(withCache, items);
      expect(withCache.stats().prefixHits).toBe(TEXTS.length - 1);
      const head = withCache.stats().prefixTokens / (TEXTS.length - 1);
      expect(Number.isInteger(head) && head > 5).toBe(true);
      expect(got).toEqual(await texts(without, items));
      expect(without.stats().prefixHits).toBe(0);
      // Another pair on the same group, and the same pair on another group: their own heads.
      await texts(withCache, [item('Good morning.', 'English', 'Czech'), item('Good morning.', 'English', 'German', 2)]);
      expect(withCache.stats().prefixHits).toBe(TEXTS.length - 1);
      // A batch of rows that arrive together: those of a cached pair hit, in one turn.
      const burst = await withCache.translateBatch(TEXTS.map((t) => item(t)));
      expect(burst.map((r) => (isXalmaError(r) ? r.code : r.text))).toEqual(got);
      expect(withCache.stats().prefixHits).toBe(2 * TEXTS.length - 1);
    });
  }
});

describe('PrefixCache', () => {
  const entry = (floats: number) => ({ len: 1, rows: [new Float32Array(floats)] });

  it('keeps to its byte budget, evicting the least recently used, and refuses an entry over the budget', () => {
    const cache = new PrefixCache(1000);
    cache.set('a', entry(100)); // 400 bytes
    cache.set('b', entry(100));
    cache.get('a'); // b is now the least recently used
    cache.set('c', entry(100));
    expect([cache.has('a'), cache.has('b'), cache.has('c')]).toEqual([true, false, true]);
    expect(cache.bytes).toBe(800);
    cache.set('huge', entry(300));
    expect(cache.has('huge')).toBe(false);
    expect(cache.size).toBe(2);
  });

  it('keys by module and the head ids only', () => {
    expect(PrefixCache.key(3, [1, 2, 3, 4], 2)).toBe(PrefixCache.key(3, [1, 2, 9], 2));
    expect(PrefixCache.key(3, [1, 2, 3], 2)).not.toBe(PrefixCache.key(4, [1, 2, 3], 2));
    expect(commonPrefix([1, 2, 3], [1, 2, 4, 5])).toBe(2);
    expect(commonPrefix([], [1])).toBe(0);
  });
});
