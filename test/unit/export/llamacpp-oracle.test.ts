/**
 * llama.cpp as a second correctness oracle (issue 14): a package exported with export-gguf
 * (F32) and run by llama.cpp (node-llama-cpp, parity settings: bench/lib/llamacpp.ts) must give
 * the same 16 greedy tokens (EOS ignored) as our engine on 10 X-ALMA prompts per tested group,
 * with the group merged into the GGUF weights and as a runtime GGUF LoRA adapter, and the
 * prompt's last-position logits within LOGIT_ATOL. Models: the embedded demo package and the
 * tiny HF fixture imported as a package (../shared/fixtures).
 *
 * node-llama-cpp is bench-only (~700 MB, not in package.json): without it the suite is skipped
 * with the reason printed, before any export or model load.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xalmaPrompts } from '../../support/xalma-prompts.ts';
import { importNodeLlamaCpp, getCpuLlama, createParityContext, greedyWithLogits, type Llama, type LlamaModel } from '../../../bench/lib/llamacpp.ts';
import { exportGguf, adapterPathFor } from '../../../src/export/llama-gguf.ts';
import { loadModelPackage, type ModelPackage } from '../../../src/model/package.ts';
import { readSafetensorsHeader } from '../../../src/model/safetensors.ts';
import { importCheckpoint } from '../../../src/import/importer.ts';
import { DEFAULT_MODEL_DIR } from '../../../src/paths.ts';
import { haveFixtures, maxAbsDiff, SHARDED } from '../../support/hf-fixtures.ts';
import { runMode } from '../../support/golden-run.ts';

/**
 * Last-position logits, |ours - llama.cpp|. Both compute in fp32 from the same fp32 weights; the
 * difference is summation order (ORT's GEMMs vs ggml's). Measured max (3 runs): demo 4e-6,
 * fixture 1.6e-5; a wrong q/k permutation, LoRA scale or norm moves them by 0.1 to ~7.
 */
const LOGIT_ATOL = 1e-4;
const NEW_TOKENS = 16;
const PROMPTS_PER_GROUP = 10;

const LIB = await importNodeLlamaCpp();
if (!LIB.ok) console.warn(`skipping the llama.cpp oracle tests: ${LIB.reason}`);
const HAVE_FIXTURES = LIB.ok && haveFixtures('the llama.cpp oracle on the imported HF fixture');

let work: string;
let llama: Llama;

beforeAll(async () => {
  if (!LIB.ok) return;
  work = await mkdtemp(join(tmpdir(), 'xalma-gguf-oracle-'));
  llama = await getCpuLlama(LIB.lib);
}, 60_000);

afterAll(async () => {
  await llama?.dispose();
  if (work) await rm(work, { recursive: true, force: true });
});

interface Case { prompt: string; ids: number[]; ours: { logits: Float32Array; tokens: number[] } }

/** Ten X-ALMA prompts of a group with our engine's answers (single mode, as golden-run.ts runs it). */
async function ourCases(pkg: ModelPackage, group: number): Promise<Case[]> {
  const header = await readSafetensorsHeader(pkg.weightsPath);
  const vocab = pkg.manifest.dims.vocabSize;
  const cases: Case[] = [];
  for (const p of await xalmaPrompts(pkg, group, PROMPTS_PER_GROUP)) {
    const { logits, tokens } = await runMode(pkg, header, 'single', group, p.ids, NEW_TOKENS);
    cases.push({ prompt: p.prompt, ids: p.ids, ours: { logits: logits.subarray(logits.length - vocab), tokens } });
  }
  return cases;
}

async function llamaCases(model: LlamaModel, cases: Case[], vocab: number, lora?: string) {
  const longest = Math.max(...cases.map((c) => c.ids.length));
  const ctx = await createParityContext(model, { contextSize: longest + NEW_TOKENS + 8, lora });
  try {
    const seq = ctx.getSequence();
    const out = [];
    for (const c of cases) out.push(await greedyWithLogits(seq, c.ids, NEW_TOKENS, vocab));
    return out;
  } finally {
    await ctx.dispose();
  }
}

/** Exports group `group` both ways and checks llama.cpp against our engine on every prompt. */
async function checkGroup(pkg: ModelPackage, group: number, label: string): Promise<void> {
  const vocab = pkg.manifest.dims.vocabSize;
  const cases = await ourCases(pkg, group);
  const mergedPath = join(work, `${label}-g${group}-merged.gguf`);
  const basePath = join(work, `${label}-g${group}.gguf`);
  await exportGguf({ modelDir: pkg.dir, group, merged: true, dtype: 'f32', out: mergedPath });
  await exportGguf({ modelDir: pkg.dir, group, merged: false, dtype: 'f32', out: basePath });
  for (const [how, path, lora] of [['merged', mergedPath, undefined], ['runtime LoRA', basePath, adapterPathFor(basePath, group)]] as const) {
    const model = await llama.loadModel({ modelPath: path });
    try {
      const theirs = await llamaCases(model, cases, vocab, lora);
      let worst = 0;
      cases.forEach((c, i) => {
        expect(theirs[i].tokens, `${label} group ${group} ${how}: greedy ids of prompt ${i} ${JSON.stringify(c.prompt)}`).toEqual(c.ours.tokens);
        worst = Math.max(worst, maxAbsDiff(theirs[i].logits, c.ours.logits));
      });
      console.info(`llama.cpp oracle: ${label} group ${group} ${how}: ${cases.length} prompts x ${NEW_TOKENS} greedy ids equal; max |logit diff| ${worst.toExponential(2)}`);
      expect(worst).toBeLessThan(LOGIT_ATOL);
    } finally {
      await model.dispose();
    }
  }
}

/** llama.cpp's tokenizer of the exported vocabulary (group 1, merged, f32) gives our X-ALMA prompt ids. */
async function expectSameTokens(pkg: ModelPackage, file: string): Promise<void> {
  const path = join(work, file);
  await exportGguf({ modelDir: pkg.dir, group: 1, merged: true, dtype: 'f32', out: path });
  const model = await llama.loadModel({ modelPath: path });
  try {
    for (const p of await xalmaPrompts(pkg, 1, PROMPTS_PER_GROUP)) {
      expect([pkg.manifest.tokenizer.bosId, ...model.tokenize(p.body)], JSON.stringify(p.body)).toEqual(p.ids);
    }
  } finally {
    await model.dispose();
  }
}

describe.skipIf(!LIB.ok)('llama.cpp (node-llama-cpp, F32 GGUF from export-gguf) agrees with our engine', () => {
  it('demo package: groups 1 and 6, merged and as a runtime LoRA adapter, 10 X-ALMA prompts each', async () => {
    const pkg = await loadModelPackage(DEFAULT_MODEL_DIR, { verifyChecksums: false });
    for (const g of [1, 6]) await checkGroup(pkg, g, 'demo');
  }, 180_000);

  it('the llama.cpp tokenizer of the exported vocabulary encodes the X-ALMA prompts as ours does (demo package)', async () => {
    await expectSameTokens(await loadModelPackage(DEFAULT_MODEL_DIR, { verifyChecksums: false }), 'demo-tok.gguf');
  }, 60_000);

  describe.skipIf(!HAVE_FIXTURES)('imported HF fixture (tiny-random-llama2-f16-sharded, PEFT adapters a and b)', () => {
    let pkg: ModelPackage;
    beforeAll(async () => {
      const out = join(work, 'fixture-fp32');
      await importCheckpoint({
        base: join(SHARDED, 'base'),
        adapters: [{ group: 1, dir: join(SHARDED, 'adapter-group-a') }, { group: 2, dir: join(SHARDED, 'adapter-group-b') }],
        dtype: 'float32',
        out,
      });
      pkg = await loadModelPackage(out, { verifyChecksums: false });
    }, 60_000);

    it('groups 1 and 2, merged and as a runtime LoRA adapter, 10 X-ALMA prompts each', async () => {
      for (const g of [1, 2]) await checkGroup(pkg, g, 'fixture');
    }, 180_000);

    it('llama.cpp tokenizes the X-ALMA prompts as ours does with the LLaMA-2 vocabulary (scores from the merge order)', async () => {
      await expectSameTokens(pkg, 'fixture-tok.gguf');
    }, 60_000);
  });
});
