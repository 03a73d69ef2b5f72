/**
 * Engine efficiency (DESIGN 4: "a batch-32 decode step reaches >= 50% of the GEMM FLOP/s that
 * onnxruntime reaches on this CPU for the same matrix shapes"), plus where a step's time goes.
 *
 *   1. GEMM roofline: for each distinct weight shape of a decode step, a graph of just those
 *      MatMuls ([32, k] x [k, n], as many distinct weights as one step has), run in
 *      onnxruntime through src/engine/ort.ts: FLOP/s per shape, and the step-weighted total
 *      (all products' FLOPs / the sum of their times).
 *   2. The engine's decode step: the merged-mode graph (plain weights, the engine's norm and
 *      last-position logits) and the all-mode graph (8 modules, rows of all 8 groups mixed; its
 *      grouped LoRA kernel, the default, and the onehot one), one step at batch 32
 *      with a past of 64 positions. FLOP/s = the same products' FLOPs / step time; LoRA work in
 *      the all-mode graph counts as overhead, not as useful FLOPs.
 *   3. Profile of a whole generation (merged runner, NEW_TOKENS tokens, EOS ignored) at batch
 *      32 and 1: time inside the model step (ORT run plus its feeds) vs the JS around it
 *      (argmax over the vocabulary, KV bookkeeping). Waiting (HTTP, scheduling) is read off
 *      bench/peers.ts (engine busy share).
 *
 *   npx tsx bench/roofline.ts [--model DIR] [--quick]
 *
 * Results: bench/results/roofline.json and roofline.md.
 */
import { parseArgs } from 'node:util';
import { generate, generateConfig, type GenRequest, type StepBatch, type StepFn } from '../src/engine/generate.ts';
import { KvCache } from '../src/engine/kv-cache.ts';
import { createRunner } from '../src/engine/modes.ts';
import { createSession, floatTensor, type OrtFeeds, type Session } from '../src/engine/ort.ts';
import { encodePrompt, loadTokenizer } from '../src/engine/tokenizer.ts';
import { DEFAULT_DECODING } from '../src/engine/types.ts';
import { loadModelPackage } from '../src/model/package.ts';
import { readSafetensorsHeader } from '../src/model/safetensors.ts';
import { ensureBenchModel, machineInfo, median, writeResults } from './common.ts';
import { decodeStepFlops, decodeStepShapes, gemmGraph } from './lib/decode-shapes.ts';
import { NEW_TOKENS, QUICK_NEW_TOKENS, TEXTS } from './lib/workload.ts';

const ROWS = 32;
const PAST = 64;
const SESSION = { provider: 'cpu' as const };

const { values } = parseArgs({ options: { model: { type: 'string' }, quick: { type: 'boolean', default: false } } });
const quick = values.quick!;
const timedRuns = quick ? 3 : 15;
const newTokens = quick ? QUICK_NEW_TOKENS : NEW_TOKENS;
const modelDir = values.model ?? (await ensureBenchModel());
const pkg = await loadModelPackage(modelDir, { verifyChecksums: false });
const header = await readSafetensorsHeader(pkg.weightsPath);
const { dims } = pkg.manifest;

/** Median ms of `runs` timed runs after two untimed ones (ORT plans memory on first sight). */
async function timeRuns(session: Session, feeds: OrtFeeds, runs: number): Promise<number> {
  for (let i = 0; i < 2; i++) await session.run(feeds);
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await session.run(feeds);
    ms.push(performance.now() - t);
  }
  return median(ms);
}

// ---- 1. GEMM roofline ----
const gemm = [];
for (const [i, shape] of decodeStepShapes(dims).entries()) {
  const session = await createSession(gemmGraph(shape, 1000 + i), SESSION);
  const x = new Float32Array(ROWS * shape.k).map((_, j) => Math.sin(j));
  const ms = await timeRuns(session, { x: floatTensor(x, [ROWS, shape.k]) }, timedRuns);
  await session.release();
  const flops = 2 * ROWS * shape.k * shape.n * shape.count;
  gemm.push({ ...shape, rows: ROWS, ms, flops, gflops: flops / ms / 1e6 });
  console.error(`gemm [${ROWS}, ${shape.k}] x [${shape.k}, ${shape.n}] x${shape.count} (${shape.label}): ${ms.toFixed(2)} ms, ${(flops / ms / 1e6).toFixed(1)} GFLOP/s`);
}
const rooflineMs = gemm.reduce((t, g) => t + g.ms, 0);
const stepFlops = decodeStepFlops(dims, ROWS);
const rooflineGflops = stepFlops / rooflineMs / 1e6;

// ---- 2. The engine's decode step (its own graphs and KV cache, through the mode runners) ----
const steps: Array<{ graph: string; ms: number; gflops: number; efficiency: number }> = [];
const genConfig = generateConfig(pkg.manifest);
async function timeStep(graph: string, mode: 'merged' | 'all', stackedKernel: 'onehot' | 'grouped' = 'grouped'): Promise<void> {
  const r = await createRunner(mode, {
    pkg, header, session: SESSION, maxResidentModules: 1, maxModuleBytes: 1024 ** 3, maxMergedSessions: 1, stackedKernel, verifyChecksums: false,
  });
  const groups = mode === 'all' ? pkg.manifest.groups.map((g) => g.id) : [1];
  const { step } = await r.prepare(groups);
  if (!step) throw new Error(`${mode} runner could not prepare`);
  const kv = new KvCache(genConfig, dims.maxPositions);
  kv.ensure(ROWS, PAST + 1, []);
  const batch: StepBatch = {
    rows: ROWS, seqLen: 1, firstSlot: 0, kv,
    inputIds: new BigInt64Array(ROWS).fill(100n), positionIds: new BigInt64Array(ROWS).fill(BigInt(PAST)),
    pastLens: new Int32Array(ROWS).fill(PAST), newLens: new Int32Array(ROWS).fill(1),
    logitsIndex: BigInt64Array.from({ length: ROWS }, (_, i) => BigInt(i)),
    modules: Int32Array.from({ length: ROWS }, (_, i) => groups[i % groups.length]),
  };
  for (let w = 0; w < 2; w++) await step(batch);
  const ms: number[] = [];
  for (let t = 0; t < timedRuns; t++) {
    const start = performance.now();
    await step(batch);
    ms.push(performance.now() - start);
  }
  r.release(groups);
  await r.close();
  const m = median(ms);
  const gflops = stepFlops / m / 1e6;
  steps.push({ graph, ms: m, gflops, efficiency: gflops / rooflineGflops });
  console.error(`decode step, ${graph}: ${m.toFixed(1)} ms, ${gflops.toFixed(1)} GFLOP/s = ${((gflops / rooflineGflops) * 100).toFixed(0)}% of the GEMM roofline`);
}
await timeStep('merged mode (plain weights)', 'merged');
await timeStep('all mode (8 modules mixed, grouped kernel: the default)', 'all', 'grouped');
await timeStep('all mode (8 stacked modules, onehot kernel)', 'all', 'onehot');

// ---- 3. Profile of whole generations: model step vs JS around it ----
const tokenizer = await loadTokenizer(pkg.tokenizerPath);
const runner = await createRunner('merged', {
  pkg, header, session: SESSION, maxResidentModules: 1, maxModuleBytes: 1024 ** 3, maxMergedSessions: 1, stackedKernel: 'onehot', verifyChecksums: false,
});
const { step } = await runner.prepare([1]);
if (!step) throw new Error('merged runner could not prepare group 1');
let stepMs = 0;
let prefillMs = 0;
let stepCalls = 0;
const timed: StepFn = async (b) => {
  const t = performance.now();
  const out = await step(b);
  const ms = performance.now() - t;
  stepMs += ms;
  if (b.seqLen > 1) prefillMs += ms;
  stepCalls++;
  return out;
};
const requests = (rows: number): GenRequest[] =>
  Array.from({ length: rows }, (_, i) => ({
    promptIds: encodePrompt(tokenizer, { template: pkg.manifest.promptTemplate, sourceName: 'English', targetName: 'German', text: TEXTS[i % TEXTS.length] }),
    options: { ...DEFAULT_DECODING, maxNewTokens: newTokens, ignoreEos: true },
    module: 1,
  }));
const profile = [];
for (const rows of [ROWS, 1]) {
  await generate(timed, requests(rows), genConfig); // untimed warm-up
  const samples: Array<{ wallMs: number; stepMs: number; prefillMs: number; jsMs: number; steps: number }> = [];
  for (let r = 0; r < (quick ? 1 : 3); r++) {
    stepMs = 0;
    prefillMs = 0;
    stepCalls = 0;
    const t = performance.now();
    await generate(timed, requests(rows), genConfig);
    const wallMs = performance.now() - t;
    samples.push({ wallMs, stepMs, prefillMs, jsMs: wallMs - stepMs, steps: stepCalls });
  }
  const pick = (k: 'wallMs' | 'stepMs' | 'prefillMs' | 'jsMs') => median(samples.map((s) => s[k]));
  const wallMs = pick('wallMs');
  const entry = {
    rows, newTokens, wallMs, stepMs: pick('stepMs'), prefillMs: pick('prefillMs'), jsMs: pick('jsMs'), steps: samples[0].steps,
    tokensPerSec: (rows * newTokens) / (wallMs / 1000), stepShare: pick('stepMs') / wallMs,
    decodeStepMs: (pick('stepMs') - pick('prefillMs')) / Math.max(1, samples[0].steps - 1),
  };
  profile.push(entry);
  console.error(`generation, batch ${rows}: ${wallMs.toFixed(0)} ms (prefill ${entry.prefillMs.toFixed(0)} ms, decode ${entry.decodeStepMs.toFixed(1)} ms/step), model steps ${(entry.stepShare * 100).toFixed(1)}%, ${entry.tokensPerSec.toFixed(1)} tok/s`);
}
runner.release([1]);
await runner.close();

const info = machineInfo();
const command = `npx tsx bench/roofline.ts${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}`;
const merged = steps[0];
const record = { bench: 'roofline', ...info, command, model: { name: pkg.manifest.name, dims }, rows: ROWS, past: PAST, timedRuns, stepFlops, gemm, rooflineMs, rooflineGflops, steps, profile, ratios: { engineEfficiency: merged.efficiency } };
const lines = [
  '# GEMM roofline and engine efficiency',
  '',
  `${info.date}, ${info.cpu} x${info.cores}, node ${info.node}, commit ${info.commit}. Model ${pkg.manifest.name} (${dims.numLayers} layers, hidden ${dims.hiddenSize}, vocab ${dims.vocabSize}). Medians of ${timedRuns} runs after 2 untimed. Command: \`${command}\`.`,
  '',
  `## GEMM roofline: the matrix products of one decode step at batch ${ROWS}`,
  '',
  '| product | weights | per step | ms | GFLOP/s |',
  '|---|---|---|---|---|',
  ...gemm.map((g) => `| [${g.rows}, ${g.k}] x [${g.k}, ${g.n}] | ${g.label} | ${g.count} | ${g.ms.toFixed(2)} | ${g.gflops.toFixed(1)} |`),
  `| **one step** | all | | **${rooflineMs.toFixed(1)}** | **${rooflineGflops.toFixed(1)}** |`,
  '',
  `## Engine decode step, batch ${ROWS}, past ${PAST} (${(stepFlops / 1e9).toFixed(2)} GFLOP of matrix products)`,
  '',
  '| graph | ms | GFLOP/s | share of the roofline |',
  '|---|---|---|---|',
  ...steps.map((s) => `| ${s.graph} | ${s.ms.toFixed(1)} | ${s.gflops.toFixed(1)} | ${(s.efficiency * 100).toFixed(0)}% |`),
  '',
  `## Where a generation's time goes (merged runner, ${newTokens} tokens, EOS ignored)`,
  '',
  '| batch | wall ms | model steps ms (ORT + feeds) | of which prefill ms | decode ms per step | JS around steps ms | steps share | tok/s |',
  '|---|---|---|---|---|---|---|---|',
  ...profile.map((p) => `| ${p.rows} | ${p.wallMs.toFixed(0)} | ${p.stepMs.toFixed(0)} | ${p.prefillMs.toFixed(0)} | ${p.decodeStepMs.toFixed(1)} | ${p.jsMs.toFixed(0)} | ${(p.stepShare * 100).toFixed(1)}% | ${p.tokensPerSec.toFixed(1)} |`),
  '',
  `Engine efficiency (DESIGN 4, target >= 50%): **${(merged.efficiency * 100).toFixed(0)}%** (${merged.efficiency >= 0.5 ? 'pass' : 'miss'}).`,
  '',
];
await writeResults('roofline', record, lines.join('\n'));
console.log(lines.join('\n'));
