/**
 * Graph op choice (issue 2): session creation time per graph variant, and the time of one
 * batch-32 decode step (past length 64) and one batch-8 prefill (48 tokens) for
 *   - RMSNorm as the standard-op chain vs onnxruntime's SimplifiedLayerNormalization;
 *   - the stacked LoRA kernels (one-hot GEMM vs per-row Gather + batched MatMul);
 *   - logits for every position vs the last one only.
 *
 *   npx tsx bench/graph-ops.ts [--model DIR]
 *
 * Results: bench/results/graph-ops.json and graph-ops.md (graph-ops-<model name>.* with --model).
 */
import { parseArgs } from 'node:util';
import { loadModelPackage } from '../src/model/package.ts';
import { readSafetensors, readSafetensorsHeader } from '../src/model/safetensors.ts';
import { buildDecoderGraph, loraInputName, pastKeyName, pastValueName, type DecoderGraphOptions } from '../src/model/graph-builder.ts';
import { baseWeightSource, moduleFactorSource } from '../src/engine/graphs.ts';
import { createSession, floatTensor, int64Tensor, type OrtFeeds } from '../src/engine/ort.ts';
import { linearShape } from '../src/model/architecture.ts';
import { checkedModuleFile, loadModuleFile, factorKey } from '../src/lora/module-file.ts';
import { ensureBenchModel, machineInfo, median, writeResults } from './common.ts';

const { values } = parseArgs({ options: { model: { type: 'string' } } });
const modelDir = values.model ?? (await ensureBenchModel());
const pkg = await loadModelPackage(modelDir, { verifyChecksums: false });
const header = await readSafetensorsHeader(pkg.weightsPath);
const { dims, lora } = pkg.manifest;
const module1 = await loadModuleFile(pkg, 1, { verifyChecksum: false });
const G = pkg.manifest.groups.length;

// Every group reads module 1's factors: the cost does not depend on the values.
const module1File = await checkedModuleFile(pkg, 1, { verifyChecksum: false });
const stackedFactors = moduleFactorSource(Array.from({ length: G }, () => module1File));

type Variant = { name: string; opts: DecoderGraphOptions };
const base = baseWeightSource(pkg, header);
const variants: Variant[] = [];
for (const norm of ['standard', 'contrib'] as const) {
  variants.push({ name: `plain, ${norm} norm, all logits`, opts: { dims, weights: base, lora: { kind: 'none' }, logits: 'all', norm } });
  variants.push({ name: `plain, ${norm} norm, last logits`, opts: { dims, weights: base, lora: { kind: 'none' }, logits: 'last', norm } });
}
variants.push({ name: 'LoRA inputs, contrib norm, last logits', opts: { dims, weights: base, lora: { kind: 'inputs', config: lora }, logits: 'last', norm: 'contrib' } });
for (const kernel of ['onehot', 'gather'] as const) {
  variants.push({ name: `stacked ${kernel}, contrib norm, last logits`, opts: { dims, weights: base, lora: { kind: 'stacked', config: lora, groups: G, kernel, factors: stackedFactors }, logits: 'last', norm: 'contrib' } });
}

function feeds(opts: DecoderGraphOptions, rows: number, seq: number, past: number): OrtFeeds {
  const ids = (n: number, f: (i: number) => number) => BigInt64Array.from({ length: n }, (_, i) => BigInt(f(i)));
  const out: OrtFeeds = {
    input_ids: int64Tensor(ids(rows * seq, (i) => 100 + (i % 1000)), [rows, seq]),
    attention_mask: int64Tensor(ids(rows * (past + seq), () => 1), [rows, past + seq]),
    position_ids: int64Tensor(ids(rows * seq, (i) => past + (i % seq)), [rows, seq]),
  };
  for (let l = 0; l < dims.numLayers; l++) {
    const shape = [rows, dims.numKvHeads, past, dims.headDim];
    const data = new Float32Array(rows * dims.numKvHeads * past * dims.headDim).fill(0.01);
    out[pastKeyName(l)] = floatTensor(data, shape);
    out[pastValueName(l)] = floatTensor(data, shape);
  }
  if (opts.lora.kind === 'inputs') {
    for (let l = 0; l < dims.numLayers; l++) {
      for (const t of lora.targets) {
        const f = module1.factors.get(factorKey(l, t))!;
        const [i, o] = linearShape(dims, t);
        out[loraInputName(l, t, 'A')] = floatTensor(f.A, [lora.rank, i]);
        out[loraInputName(l, t, 'B')] = floatTensor(f.B, [o, lora.rank]);
      }
    }
  }
  if (opts.lora.kind === 'stacked') out.module_ids = int64Tensor(ids(rows, (i) => i % G), [rows]);
  return out;
}

const rows: Array<{ name: string; graphMs: number; createMs: number; decodeMs: number; decode256Ms: number; prefillMs: number }> = [];
for (const v of variants) {
  let t = performance.now();
  const bytes = buildDecoderGraph(v.opts);
  const graphMs = performance.now() - t;
  t = performance.now();
  const session = await createSession(bytes, { provider: 'cpu' }, pkg.dir);
  const createMs = performance.now() - t;
  const time = async (f: OrtFeeds, n: number) => {
    await session.run(f);
    const xs: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await session.run(f);
      xs.push(performance.now() - t0);
    }
    return median(xs);
  };
  const decodeMs = await time(feeds(v.opts, 32, 1, 64), 7);
  // The same step with 4x the past: the growth is attention plus the KV concatenation.
  const decode256Ms = await time(feeds(v.opts, 32, 1, 256), 5);
  const prefillMs = await time(feeds(v.opts, 8, 48, 0), 3);
  await session.release();
  rows.push({ name: v.name, graphMs, createMs, decodeMs, decode256Ms, prefillMs });
  console.error(`${v.name}: build ${graphMs.toFixed(0)} ms, session ${createMs.toFixed(0)} ms, decode b32 ${decodeMs.toFixed(1)} ms (past 256: ${decode256Ms.toFixed(1)}), prefill 8x48 ${prefillMs.toFixed(1)} ms`);
}

// The merged variant is the plain graph with other weight values: same ops, same cost; its
// extra load cost is the merge itself, timed here.
const t0 = performance.now();
const { mergeModuleAsync } = await import('../src/model/merge.ts');
const baseTensors = await readSafetensors(pkg.weightsPath);
const rawModule = await readSafetensors(pkg.modulePath(1));
const t1 = performance.now();
await mergeModuleAsync(baseTensors, rawModule, dims, lora);
const mergeMs = performance.now() - t1;
const readMs = t1 - t0;

const info = machineInfo();
const md = [
  '# Graph op choice',
  '',
  `${info.date}, ${info.cpu} x${info.cores}, node ${info.node}, commit ${info.commit}. Model ${pkg.manifest.name} (${dims.numLayers} layers, hidden ${dims.hiddenSize}, vocab ${dims.vocabSize}). Command: \`npx tsx bench/graph-ops.ts${values.model ? ` --model ${values.model}` : ''}\`. Medians.`,
  '',
  '| variant | build graph ms | create session ms | decode step, batch 32, past 64 (ms) | same, past 256 (ms) | prefill 8 x 48 tokens (ms) |',
  '|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.name} | ${r.graphMs.toFixed(0)} | ${r.createMs.toFixed(0)} | ${r.decodeMs.toFixed(1)} | ${r.decode256Ms.toFixed(1)} | ${r.prefillMs.toFixed(1)} |`),
  '',
  `Merged variant: same graph as "plain"; merging one module into the base takes ${mergeMs.toFixed(0)} ms (reading base + module: ${readMs.toFixed(0)} ms).`,
  '',
].join('\n');
// Another model (--model) gets its own result files, so the bench-model record stays.
const resultName = values.model ? `graph-ops-${pkg.manifest.name}` : 'graph-ops';
await writeResults(resultName, { bench: 'graph-ops', ...info, command: `npx tsx bench/graph-ops.ts${values.model ? ` --model ${values.model}` : ''}`, rows, mergeMs, readMs }, md);
console.log(md);
