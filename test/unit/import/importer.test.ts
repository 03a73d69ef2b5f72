/**
 * The importer end to end against implementations that are not ours: the tiny HF checkpoint
 * in ../shared/fixtures (F16 shards + PEFT adapters as safetensors and as a torch pickle) is
 * imported, and the package's logits and greedy ids must equal what transformers + PEFT
 * computed (cross-checked by llama2.c), in every loading mode.
 */
import { cp, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importCheckpoint } from '../../../src/import/importer.ts';
import { loadModelPackage, type ModelPackage } from '../../../src/model/package.ts';
import { readSafetensors, readSafetensorsHeader, writeSafetensors, type SafetensorsHeader } from '../../../src/model/safetensors.ts';
import { buildDecoderGraph } from '../../../src/model/graph-builder.ts';
import { baseWeightSource, ENGINE_NORM, moduleFactorSource } from '../../../src/engine/graphs.ts';
import { createSession, int64Tensor, floatTensor, tensorData, type OrtFeeds } from '../../../src/engine/ort.ts';
import type { LoadingMode } from '../../../src/engine/types.ts';
import { checkedModuleFile } from '../../../src/lora/module-file.ts';
import { pastKeyName, pastValueName } from '../../../src/model/graph-builder.ts';
import { encodePrompt, loadTokenizer } from '../../../src/engine/tokenizer.ts';
import { mergedWeightsFile } from '../../../src/engine/merged-weights.ts';
import { transpose } from '../../../src/model/weight-storage.ts';
import { LORA_TARGETS, tensorNames } from '../../../src/model/architecture.ts';
import { BASARAN, haveFixtures, maxAbsDiff, readGolden, SHARDED, toleranceRatio, type Golden } from '../../support/hf-fixtures.ts';
import { runMode } from '../../support/golden-run.ts';

const HAVE = haveFixtures('the importer golden tests');
/** The bar: 2e-4 + 2e-4 * |ref| (fp32 compute on fp16-exact weights). */
const ATOL = 2e-4;
const RTOL = 2e-4;
const MODES: LoadingMode[] = ['single', 'merged', 'all'];
/** Package groups: adapter-group-a (safetensors) is group 1, adapter-group-b (.bin only) group 2. */
const ADAPTERS = [{ group: 1, name: 'adapter-group-a' }, { group: 2, name: 'adapter-group-b' }];

let work: string;
let pkg: ModelPackage;
let header: SafetensorsHeader;
const goldens = new Map<string, Golden>();

async function importFixture(dtype: 'float32' | 'float16' | 'int8' | 'int4', out: string) {
  return importCheckpoint({
    base: join(SHARDED, 'base'),
    adapters: ADAPTERS.map((a) => ({ group: a.group, dir: join(SHARDED, a.name) })),
    dtype,
    out,
  });
}

beforeAll(async () => {
  if (!HAVE) return;
  work = await mkdtemp(join(tmpdir(), 'xalma-import-'));
  await importFixture('float32', join(work, 'fp32'));
  pkg = await loadModelPackage(join(work, 'fp32'));
  header = await readSafetensorsHeader(pkg.weightsPath);
  for (const name of ['base', ...ADAPTERS.map((a) => a.name)]) goldens.set(name, await readGolden(SHARDED, name));
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** Logits at every position for one prompt, on a graph built for `group` (null = base). */
async function allPositionLogits(p: ModelPackage, h: SafetensorsHeader, group: number | null, ids: number[]): Promise<Float32Array> {
  const modules = group === null ? null : [await checkedModuleFile(p, group, { verifyChecksum: false })];
  const graph = buildDecoderGraph({
    dims: p.manifest.dims,
    weights: baseWeightSource(p, h),
    lora: modules ? { kind: 'folded', config: p.manifest.lora, factors: moduleFactorSource(modules) } : { kind: 'none' },
    logits: 'all',
    norm: ENGINE_NORM,
    weightDtype: p.manifest.dtype,
  });
  const session = await createSession(graph, { provider: 'cpu' }, p.dir);
  const n = ids.length;
  const feeds: OrtFeeds = {
    input_ids: int64Tensor(BigInt64Array.from(ids.map(BigInt)), [1, n]),
    attention_mask: int64Tensor(new BigInt64Array(n).fill(1n), [1, n]),
    position_ids: int64Tensor(BigInt64Array.from(ids.map((_, i) => BigInt(i))), [1, n]),
  };
  const { numLayers, numKvHeads, headDim } = p.manifest.dims;
  for (let l = 0; l < numLayers; l++) {
    feeds[pastKeyName(l)] = floatTensor(new Float32Array(0), [1, numKvHeads, 0, headDim]);
    feeds[pastValueName(l)] = floatTensor(new Float32Array(0), [1, numKvHeads, 0, headDim]);
  }
  const out = tensorData((await session.run(feeds)).logits);
  await session.release();
  return out;
}

function rowsAt(logits: Float32Array, positions: number[], vocab: number): Float32Array {
  const out = new Float32Array(positions.length * vocab);
  positions.forEach((p, k) => out.set(logits.subarray(p * vocab, (p + 1) * vocab), k * vocab));
  return out;
}

describe.skipIf(!HAVE)('import of a Hugging Face LLaMA checkpoint + PEFT adapters matches transformers + PEFT', () => {
  it('records the checkpoint values in the manifest (dims, eps, ids, LoRA scale, source) and is not a demo', () => {
    const m = pkg.manifest;
    expect(m.demo).toBe(false);
    expect(m.dims).toEqual({ vocabSize: 32000, hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 4, headDim: 8, maxPositions: 4096, rmsNormEps: 1e-5, ropeTheta: 10000 });
    expect(m.tokenizer).toMatchObject({ bosId: 1, eosId: 2, padId: 0 });
    expect(m.lora).toEqual({ rank: 4, scale: 2, targets: [...LORA_TARGETS] });
    expect(m.source?.base).toBe('base');
    expect(m.source?.adapters.map((a) => a.file)).toEqual(['adapter_model.safetensors', 'adapter_model.bin']);
    expect(m.source?.configSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(m.groups.map((g) => g.id)).toEqual([1, 2]);
  });

  it('per-position logits of the base and of each adapter are within 2e-4 (+2e-4·|ref|) of the goldens', async () => {
    const vocab = pkg.manifest.dims.vocabSize;
    for (const [name, group] of [['base', null], ...ADAPTERS.map((a) => [a.name, a.group])] as Array<[string, number | null]>) {
      for (const c of goldens.get(name)!.cases) {
        const logits = rowsAt(await allPositionLogits(pkg, header, group, c.input_ids), c.logits_positions, vocab);
        expect(toleranceRatio(logits, c.logits, ATOL, RTOL), `${name} ${c.name}`).toBeLessThanOrEqual(1);
      }
    }
  });

  for (const mode of MODES) {
    it(`${mode} mode: last-position logits and 16 greedy ids equal the goldens for each adapter`, async () => {
      const vocab = pkg.manifest.dims.vocabSize;
      for (const a of ADAPTERS) {
        for (const c of goldens.get(a.name)!.cases) {
          const { logits, tokens } = await runMode(pkg, header, mode, a.group, c.input_ids, c.greedy_continuation_ids.length);
          const last = c.logits.subarray((c.logits_positions.length - 1) * vocab);
          expect(toleranceRatio(logits, last, ATOL, RTOL), `${mode} ${a.name} ${c.name}`).toBeLessThanOrEqual(1);
          expect(tokens, `${mode} ${a.name} ${c.name}`).toEqual(c.greedy_continuation_ids);
        }
      }
    });
  }

  it('tokenizer parity: the checkpoint tokenizer gives the goldens\' prompt ids, and the X-ALMA prompt of case2', async () => {
    const tok = await loadTokenizer(pkg.tokenizerPath);
    const g = goldens.get('base')!;
    g.texts.forEach((text, i) => expect(tok.encode(text, { addBos: true }), text).toEqual(g.cases[i].input_ids));
    const prompt = encodePrompt(tok, { template: pkg.manifest.promptTemplate, sourceName: 'Chinese', targetName: 'English', text: '我爱机器翻译。' });
    expect(prompt).toEqual(g.cases[2].input_ids);
    // New tokens decode as SentencePiece does: the dummy-prefix space of the first piece is dropped.
    expect(tok.decode([15043, 3186])).toBe('Hello world');
    expect(tok.decode([29871, 30672, 234, 139, 180])).toBe('我爱');
  });

  it('merged weights written for merged mode equal PEFT merge_and_unload (W + 2·B@A)', async () => {
    const expected = await readSafetensors(join(SHARDED, 'golden_adapter-group-b_merged_linear_weights.safetensors'));
    const module = await checkedModuleFile(pkg, 2, { verifyChecksum: false });
    const file = await mergedWeightsFile(pkg, 2, header, module.header);
    const merged = await readSafetensors(join(pkg.dir, file.location));
    let worst = 0;
    for (let l = 0; l < pkg.manifest.dims.numLayers; l++) {
      for (const t of LORA_TARGETS) {
        const section = ['gate_proj', 'up_proj', 'down_proj'].includes(t) ? 'mlp' : 'self_attn';
        const ref = [...expected].find(([k]) => k.includes(`layers.${l}.${section}.${t}`))![1];
        const ours = merged.get(tensorNames.linear(l, t))!; // [in, out]
        const hf = transpose(ours.data, ours.shape[0], ours.shape[1]);
        worst = Math.max(worst, maxAbsDiff(hf, ref.data));
      }
    }
    expect(worst).toBeLessThan(1e-5);
  });
});

describe.skipIf(!HAVE)('import options beyond the fp32 path', () => {
  it('--merged: a group\'s merged model is imported and merged mode runs it (goldens of adapter-group-b)', async () => {
    // A merged checkpoint as the X-ALMA Group repos ship one: the base with W + 2·B@A linears
    // (PEFT merge_and_unload's own weights, from the fixture).
    const dir = join(work, 'merged-group-b');
    await mkdir(dir);
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) await cp(join(SHARDED, 'base', f), join(dir, f));
    const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const f of ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']) for (const [k, v] of await readSafetensors(join(SHARDED, 'base', f))) tensors.set(k, v);
    for (const [k, v] of await readSafetensors(join(SHARDED, 'golden_adapter-group-b_merged_linear_weights.safetensors'))) tensors.set(k, v);
    await writeSafetensors(join(dir, 'model.safetensors'), [...tensors].map(([name, t]) => ({ name, ...t })));

    const out = join(work, 'with-merged');
    const s = await importCheckpoint({ base: join(SHARDED, 'base'), adapters: ADAPTERS.map((a) => ({ group: a.group, dir: join(SHARDED, a.name) })), merged: [{ group: 2, dir }], dtype: 'float32', out });
    expect(s.manifest.merged).toEqual([{ group: 2, file: 'merged/group2.safetensors' }]);
    const p = await loadModelPackage(out);
    const h = await readSafetensorsHeader(p.weightsPath);
    const vocab = p.manifest.dims.vocabSize;
    for (const c of goldens.get('adapter-group-b')!.cases) {
      const { logits, tokens } = await runMode(p, h, 'merged', 2, c.input_ids, c.greedy_continuation_ids.length);
      expect(toleranceRatio(logits, c.logits.subarray((c.logits_positions.length - 1) * vocab), ATOL, RTOL), c.name).toBeLessThanOrEqual(1);
      expect(tokens).toEqual(c.greedy_continuation_ids);
    }
    // merged mode read the imported file, not a file prepared at load
    await expect(stat(join(out, 'prepared'))).rejects.toThrow();
  });

  it('reads rms_norm_eps from config.json (basaran: 1e-6, head_dim 2) and meets its goldens', async () => {
    // basaran ships no adapter; a PEFT adapter right after get_peft_model has B = 0, a no-op,
    // so the package's groups must reproduce the base goldens exactly.
    const adapter = join(work, 'zero-adapter');
    await mkdir(adapter);
    await writeFile(join(adapter, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r: 2, lora_alpha: 4, target_modules: ['q_proj', 'v_proj'], bias: 'none', fan_in_fan_out: false }));
    const factors = [];
    for (let l = 0; l < 2; l++) {
      for (const t of ['q_proj', 'v_proj']) {
        const key = `base_model.model.model.layers.${l}.self_attn.${t}`;
        factors.push({ name: `${key}.lora_A.weight`, shape: [2, 4], data: Float32Array.from({ length: 8 }, (_, i) => 0.1 * (i + 1)) });
        factors.push({ name: `${key}.lora_B.weight`, shape: [4, 2], data: new Float32Array(8) });
      }
    }
    await writeSafetensors(join(adapter, 'adapter_model.safetensors'), factors);
    const out = join(work, 'basaran');
    await importCheckpoint({ base: BASARAN, adapters: [{ group: 1, dir: adapter }], dtype: 'float32', out });
    const p = await loadModelPackage(out);
    expect(p.manifest.dims.rmsNormEps).toBe(1e-6);
    expect(p.manifest.lora.targets).toEqual(['q_proj', 'v_proj']);
    const h = await readSafetensorsHeader(p.weightsPath);
    const golden = await readGolden(BASARAN, '');
    const vocab = p.manifest.dims.vocabSize;
    for (const c of golden.cases) {
      const { logits, tokens } = await runMode(p, h, 'single', 1, c.input_ids, c.greedy_continuation_ids.length);
      expect(toleranceRatio(logits, c.logits.subarray((c.logits_positions.length - 1) * vocab), ATOL, RTOL), c.name).toBeLessThanOrEqual(1);
      expect(tokens).toEqual(c.greedy_continuation_ids);
    }
  });

  it('fp16 storage meets the goldens (the fixture weights are fp16-exact); int8 and int4 error vs fp32 is measured and reported', async () => {
    const rows: string[] = ['| dtype | mode | max |logit - golden| (last position) | greedy ids equal to fp32 (of 16, per case) |', '|---|---|---|---|'];
    const vocab = pkg.manifest.dims.vocabSize;
    for (const dtype of ['float16', 'int8', 'int4'] as const) {
      const out = join(work, dtype);
      await importFixture(dtype, out);
      const p = await loadModelPackage(out);
      const h = await readSafetensorsHeader(p.weightsPath);
      for (const mode of MODES) {
        let worst = 0;
        const agree: number[] = [];
        for (const a of ADAPTERS) {
          for (const c of goldens.get(a.name)!.cases) {
            const { logits, tokens } = await runMode(p, h, mode, a.group, c.input_ids, c.greedy_continuation_ids.length);
            const last = c.logits.subarray((c.logits_positions.length - 1) * vocab);
            if (dtype === 'float16') {
              expect(toleranceRatio(logits, last, ATOL, RTOL), `${mode} ${a.name} ${c.name}`).toBeLessThanOrEqual(1);
              expect(tokens).toEqual(c.greedy_continuation_ids);
            }
            expect(tokens).toHaveLength(16);
            worst = Math.max(worst, maxAbsDiff(logits, last));
            // agreement up to the first divergence: later tokens follow a different prefix
            const first = tokens.findIndex((t, i) => t !== c.greedy_continuation_ids[i]);
            agree.push(first === -1 ? 16 : first);
          }
        }
        rows.push(`| ${dtype} | ${mode} | ${worst.toFixed(4)} | ${agree.join(', ')} |`);
      }
    }
    console.log(`quantized vs fp32 goldens (tiny fixture: hidden 32, so one int4 block spans a whole row)\n${rows.join('\n')}`);
  });
});
