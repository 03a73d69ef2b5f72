/**
 * The importer end to end against implementations that are not ours: the tiny HF checkpoint
 * in ../shared/fixtures (F16 shards + PEFT adapters as safetensors and as a torch pickle) is
 * imported, and the package's logits and greedy ids must equal what transformers + PEFT
 * computed (cross-checked by llama2.c), in every loading mode.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importCheckpoint } from '../../../src/import/importer.ts';
import { loadModelPackage, type ModelPackage } from '../../../src/model/package.ts';
import { readSafetensors, readSafetensorsHeader, type SafetensorsHeader } from '../../../src/model/safetensors.ts';
import { buildDecoderGraph } from '../../../src/model/graph-builder.ts';
import { baseWeightSource, ENGINE_NORM, moduleFactorSource } from '../../../src/engine/graphs.ts';
import { createSession, int64Tensor, floatTensor, tensorData, type OrtFeeds } from '../../../src/engine/ort.ts';
import { createRunner } from '../../../src/engine/modes.ts';
import { generate, type StepBatch } from '../../../src/engine/generate.ts';
import { DEFAULT_DECODING, type LoadingMode } from '../../../src/engine/types.ts';
import { checkedModuleFile } from '../../../src/lora/module-file.ts';
import { pastKeyName, pastValueName } from '../../../src/model/graph-builder.ts';
import { encodePrompt, loadTokenizer } from '../../../src/engine/tokenizer.ts';
import { mergedWeightsFile } from '../../../src/engine/merged-weights.ts';
import { transpose } from '../../../src/model/weight-storage.ts';
import { LORA_TARGETS, tensorNames } from '../../../src/model/architecture.ts';
import { haveFixtures, maxAbsDiff, readGolden, SHARDED, toleranceRatio, type Golden } from '../../support/hf-fixtures.ts';

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

/** Prefill of one prompt through a mode runner: last-position logits, then 16 greedy tokens. */
async function runMode(p: ModelPackage, h: SafetensorsHeader, mode: LoadingMode, group: number, ids: number[], maxNewTokens: number) {
  const runner = await createRunner(mode, {
    pkg: p, header: h, session: { provider: 'cpu' }, maxResidentModules: 2, maxModuleBytes: 1024 ** 3, maxMergedSessions: 2, stackedKernel: 'onehot', verifyChecksums: true,
  });
  try {
    const { step, failed } = await runner.prepare([group]);
    expect(failed.size, [...failed.values()].join('; ')).toBe(0);
    const n = ids.length;
    const batch: StepBatch = {
      rows: 1, seqLen: n, pastLen: 0, past: null, modules: Int32Array.of(group),
      inputIds: BigInt64Array.from(ids.map(BigInt)),
      attentionMask: new BigInt64Array(n).fill(1n),
      positionIds: BigInt64Array.from(ids.map((_, i) => BigInt(i))),
    };
    const { logits } = await step!(batch);
    const { dims, tokenizer } = p.manifest;
    const [out] = await generate(step!, [{ promptIds: ids, options: { ...DEFAULT_DECODING, maxNewTokens, ignoreEos: true }, module: group }], {
      vocabSize: dims.vocabSize, eosId: tokenizer.eosId, padId: tokenizer.padId, kvHeads: dims.numKvHeads, headDim: dims.headDim,
    });
    runner.release([group]);
    return { logits, tokens: out.tokens };
  } finally {
    await runner.close();
  }
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
