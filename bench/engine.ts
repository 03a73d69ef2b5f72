/**
 * Engine benchmark (issue 3): in one run, on one machine and one model package:
 *   - output tokens/s at batch 1, 4, 8, 16, 32 (greedy, fixed length: EOS ignored) per mode;
 *   - all mode: the same batches with 8 groups mixed vs a single group;
 *   - single mode: cached-module switch time, cold load time, and the time to read the
 *     module's bytes from disk;
 *   - resident memory (RSS) per mode, each mode in its own child process.
 *
 *   npx tsx bench/engine.ts [--model DIR] [--quick]
 *
 * Without --model it makes (once) the `bench` preset package under bench/.models/ (~125M
 * parameters, not committed). Results: bench/results/engine.json and engine.md.
 */
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createEngine } from '../src/engine/engine.ts';
import { DEFAULT_DECODING, type Engine, type LoadingMode, type TranslationItem } from '../src/engine/types.ts';
import { SingleModeRunner } from '../src/engine/modes.ts';
import { loadModelPackage } from '../src/model/package.ts';
import { readSafetensorsHeader } from '../src/model/safetensors.ts';
import { isXalmaError } from '../src/errors.ts';
import { REPO_ROOT } from '../src/paths.ts';
import { ensureBenchModel, machineInfo, median, writeResults } from './common.ts';
import { NEW_TOKENS, TEXTS } from './lib/workload.ts';

const BATCHES = [1, 4, 8, 16, 32];
function items(n: number, mixed: boolean): TranslationItem[] {
  return Array.from({ length: n }, (_, i) => ({
    group: mixed ? (i % 8) + 1 : 1,
    sourceName: 'English',
    targetName: 'German',
    text: TEXTS[i % TEXTS.length],
    options: { ...DEFAULT_DECODING, maxNewTokens: NEW_TOKENS, ignoreEos: true },
  }));
}

async function tokensPerSecond(engine: Engine, batch: number, mixed: boolean, repeats: number): Promise<number> {
  const rates: number[] = [];
  // One untimed run per shape: ORT plans memory for new shapes on first sight.
  await engine.translateBatch(items(batch, mixed));
  for (let r = 0; r < repeats; r++) {
    const work = items(batch, mixed);
    const t0 = performance.now();
    const out = await engine.translateBatch(work);
    const seconds = (performance.now() - t0) / 1000;
    const tokens = out.reduce((n, o) => n + (isXalmaError(o) ? 0 : o.outputTokens), 0);
    if (tokens !== batch * NEW_TOKENS) throw new Error(`expected ${batch * NEW_TOKENS} tokens, got ${tokens}`);
    rates.push(tokens / seconds);
  }
  return median(rates);
}

/** Child: one mode, its throughput table and RSS. */
async function child(modelDir: string, mode: LoadingMode, repeats: number): Promise<void> {
  const t0 = performance.now();
  const engine = await createEngine({ modelDir, mode, provider: 'cpu', maxMergedSessions: 2, maxResidentModules: 2 });
  await engine.warmup();
  const createMs = performance.now() - t0;
  const single: Record<number, number> = {};
  const mixed: Record<number, number> = {};
  for (const b of BATCHES) single[b] = await tokensPerSecond(engine, b, false, repeats);
  if (mode === 'all') for (const b of BATCHES) mixed[b] = await tokensPerSecond(engine, b, true, repeats);
  const rssMb = process.memoryUsage().rss / 1e6;
  await engine.close();
  process.stdout.write(JSON.stringify({ mode, createMs, single, mixed, rssMb }) + '\n');
}

/** Module switch (cached), cold load and raw read of the module bytes, single mode. */
async function moduleTimes(modelDir: string, repeats: number) {
  const pkg = await loadModelPackage(modelDir, { verifyChecksums: false });
  const header = await readSafetensorsHeader(pkg.weightsPath);
  const runner = await SingleModeRunner.create({
    pkg, header, session: { provider: 'cpu' }, maxResidentModules: 1, maxModuleBytes: 8 * 1024 ** 3, maxMergedSessions: 1, stackedKernel: 'onehot', verifyChecksums: false,
  });
  const switchMs: number[] = [];
  const coldMs: number[] = [];
  const readMs: number[] = [];
  // Warm the page cache and the runner once.
  await runner.prepare([1]).then(() => runner.release([1]));
  for (let r = 0; r < repeats * 3; r++) {
    let t = performance.now();
    const a = await runner.prepare([1]); // cached: a hit
    switchMs.push(performance.now() - t);
    runner.release([1]);
    if (!a.step) throw new Error('group 1 failed');
    t = performance.now();
    await runner.prepare([2]); // capacity 1: evicts 1, loads 2 from disk
    coldMs.push(performance.now() - t);
    runner.release([2]);
    t = performance.now();
    await readFile(pkg.modulePath(2));
    readMs.push(performance.now() - t);
    await runner.prepare([1]).then(() => runner.release([1])); // back to 1 for the next round
  }
  const moduleBytes = (await readFile(pkg.modulePath(2))).length;
  await runner.close();
  return { switchMs: median(switchMs), coldLoadMs: median(coldMs), readBytesMs: median(readMs), moduleBytes };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { model: { type: 'string' }, quick: { type: 'boolean', default: false }, child: { type: 'string' } } });
  const repeats = values.quick ? 1 : 3;
  const modelDir = values.model ?? (await ensureBenchModel());
  if (values.child) return child(modelDir, values.child as LoadingMode, repeats);

  const modes: LoadingMode[] = ['all', 'single', 'merged'];
  const perMode: Record<string, { createMs: number; single: Record<number, number>; mixed: Record<number, number>; rssMb: number }> = {};
  for (const mode of modes) {
    const args = ['--import', 'tsx', join(REPO_ROOT, 'bench/engine.ts'), '--model', modelDir, '--child', mode, ...(values.quick ? ['--quick'] : [])];
    const res = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
    if (res.status !== 0) throw new Error(`child ${mode} failed: ${res.stderr}`);
    perMode[mode] = JSON.parse(res.stdout.trim().split('\n').pop()!);
    console.error(`${mode}: ${JSON.stringify(perMode[mode])}`);
  }
  const modules = await moduleTimes(modelDir, repeats);

  const all = perMode.all;
  const ratios = {
    batch32VsBatch1: all.single[32] / all.single[1],
    mixedVsSingleGroupAt32: all.mixed[32] / all.single[32],
    coldLoadVsRead: modules.coldLoadMs / modules.readBytesMs,
  };
  const manifest = JSON.parse(await readFile(join(modelDir, 'manifest.json'), 'utf8'));
  const record = {
    bench: 'engine',
    ...machineInfo(),
    command: `npx tsx bench/engine.ts${values.quick ? ' --quick' : ''}${values.model ? ` --model ${values.model}` : ''}`,
    model: { name: manifest.name, dims: manifest.dims, lora: manifest.lora },
    newTokens: NEW_TOKENS,
    repeats,
    perMode,
    modules,
    ratios,
  };
  const lines = [
    `# Engine benchmark`,
    ``,
    `${record.date}, ${record.cpu} x${record.cores}, node ${record.node}, commit ${record.commit}. Model ${manifest.name} (${manifest.dims.numLayers} layers, hidden ${manifest.dims.hiddenSize}, vocab ${manifest.dims.vocabSize}, LoRA rank ${manifest.lora.rank}). ${NEW_TOKENS} new tokens per row, EOS ignored, median of ${repeats}. Command: \`${record.command}\`.`,
    ``,
    `## Output tokens/s by batch size (one group per batch)`,
    ``,
    `| mode | ${BATCHES.map((b) => `batch ${b}`).join(' | ')} | RSS MB | start+warm-up ms |`,
    `|---|${BATCHES.map(() => '---').join('|')}|---|---|`,
    ...modes.map((m) => `| ${m} | ${BATCHES.map((b) => perMode[m].single[b].toFixed(1)).join(' | ')} | ${perMode[m].rssMb.toFixed(0)} | ${perMode[m].createMs.toFixed(0)} |`),
    `| all, 8 groups mixed | ${BATCHES.map((b) => all.mixed[b].toFixed(1)).join(' | ')} | | |`,
    ``,
    `## Modules (single mode)`,
    ``,
    `| cached switch ms | cold load ms | read module bytes ms | module MB |`,
    `|---|---|---|---|`,
    `| ${modules.switchMs.toFixed(3)} | ${modules.coldLoadMs.toFixed(1)} | ${modules.readBytesMs.toFixed(1)} | ${(modules.moduleBytes / 1e6).toFixed(1)} |`,
    ``,
    `## Against DESIGN 4`,
    ``,
    `| ratio | measured | target | |`,
    `|---|---|---|---|`,
    `| batch 32 vs batch 1 tokens/s (all mode) | ${ratios.batch32VsBatch1.toFixed(2)}x | >= 8x | ${ratios.batch32VsBatch1 >= 8 ? 'pass' : 'miss'} |`,
    `| 8 groups mixed vs one group, batch 32 (all mode) | ${ratios.mixedVsSingleGroupAt32.toFixed(2)}x | >= 0.8x | ${ratios.mixedVsSingleGroupAt32 >= 0.8 ? 'pass' : 'miss'} |`,
    `| cached module switch | ${modules.switchMs.toFixed(3)} ms | < 1 ms | ${modules.switchMs < 1 ? 'pass' : 'miss'} |`,
    `| cold load vs reading its bytes | ${ratios.coldLoadVsRead.toFixed(2)}x | <= 1.5x | ${ratios.coldLoadVsRead <= 1.5 ? 'pass' : 'miss'} |`,
  ];
  await writeResults('engine', record, lines.join('\n') + '\n');
  console.log(lines.join('\n'));
}

await main();
