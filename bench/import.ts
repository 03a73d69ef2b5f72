/**
 * Import and quantization benchmark (issue 10), in one run on one machine:
 *   - import cost: `xalma-serve import` of an F16 Hugging Face checkpoint (the bench preset
 *     exported as X-ALMA is published) to fp32 / int8 / int4, against reading the same bytes
 *     from disk; both start from a cold page cache when the process may drop it (root), else
 *     both warm (the record says which);
 *   - decoding speed of the imported packages: output tokens/s at batch 1 and 32 (single mode,
 *     greedy, EOS ignored, median of 3 after a warm-up) and resident memory, each package in its
 *     own child process: the whole process, and what loading the model added to it (RSS after
 *     the runs minus RSS before the engine was created).
 *
 *   npx tsx bench/import.ts [--quick]
 *
 * Results: bench/results/import.json and import.md.
 */
import { spawnSync } from 'node:child_process';
import { open, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { importCheckpoint } from '../src/import/importer.ts';
import type { WeightDtype } from '../src/model/weight-storage.ts';
import { REPO_ROOT } from '../src/paths.ts';
import { ensureBenchModel, machineInfo, median, writeResults } from './common.ts';
import { ensureHfCheckpoint } from './lib/hf-export.ts';
import { NEW_TOKENS, QUICK_NEW_TOKENS, TEXTS } from './lib/workload.ts';

const { values } = parseArgs({ options: { quick: { type: 'boolean' }, child: { type: 'string' }, rows: { type: 'string' }, tokens: { type: 'string' } } });
const MODELS = join(REPO_ROOT, 'bench', '.models');
const DTYPES: WeightDtype[] = ['float32', 'int8', 'int4'];
const BATCHES = [1, 32];

/** Child: tokens/s of one package at one batch size, then its RSS. */
async function child(modelDir: string, rows: number, tokens: number): Promise<void> {
  const { createEngine } = await import('../src/engine/engine.ts');
  const { DEFAULT_DECODING } = await import('../src/engine/types.ts');
  const { isXalmaError } = await import('../src/errors.ts');
  const rssBefore = process.memoryUsage().rss;
  const engine = await createEngine({ modelDir, mode: 'single', provider: 'cpu', verifyChecksums: false });
  const items = Array.from({ length: rows }, (_, i) => ({ group: 1, sourceName: 'English', targetName: 'German', text: TEXTS[i % TEXTS.length], options: { ...DEFAULT_DECODING, maxNewTokens: tokens, ignoreEos: true } }));
  await engine.translateBatch(items);
  const rates: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    const out = await engine.translateBatch(items);
    const n = out.reduce((s, o) => s + (isXalmaError(o) ? 0 : o.outputTokens), 0);
    if (n !== rows * tokens) throw new Error(`expected ${rows * tokens} tokens, got ${n}`);
    rates.push(n / ((performance.now() - t0) / 1000));
  }
  const rss = process.memoryUsage().rss;
  console.log(JSON.stringify({ tokensPerSecond: median(rates), rssMb: rss / 1e6, modelRssMb: (rss - rssBefore) / 1e6 }));
  await engine.close();
}

/** Empties the page cache so reads come from the disk; false where not allowed (not root). */
async function dropCaches(): Promise<boolean> {
  spawnSync('sync');
  try {
    await writeFile('/proc/sys/vm/drop_caches', '3');
    return true;
  } catch {
    return false;
  }
}

/** Reads every file of the folders front to back (16 MiB chunks), as the importer's input. */
async function readAll(dirs: string[]): Promise<{ bytes: number; ms: number }> {
  const buf = Buffer.alloc(16 * 1024 * 1024);
  let bytes = 0;
  const t0 = performance.now();
  for (const dir of dirs) {
    for (const f of await readdir(dir)) {
      if (!f.endsWith('.safetensors')) continue;
      const fh = await open(join(dir, f));
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, null);
        if (bytesRead === 0) break;
        bytes += bytesRead;
      }
      await fh.close();
    }
  }
  return { bytes, ms: performance.now() - t0 };
}

async function main(): Promise<void> {
  const tokens = values.quick ? QUICK_NEW_TOKENS : NEW_TOKENS;
  const pkgDir = await ensureBenchModel();
  const hf = await ensureHfCheckpoint(pkgDir, join(MODELS, 'xalma-bench-hf'), [1, 2]);
  const inputs = [hf.base, ...hf.adapters.map((a) => a.dir)];

  const imports: Array<{ dtype: WeightDtype; ms: number; readMs: number; bytesRead: number; bytesWritten: number }> = [];
  let cold = true;
  for (const dtype of DTYPES) {
    const out = join(MODELS, `xalma-bench-import-${dtype}`);
    await rm(out, { recursive: true, force: true });
    cold = (await dropCaches()) && cold;
    const read = await readAll(inputs);
    cold = (await dropCaches()) && cold;
    const s = await importCheckpoint({ base: hf.base, adapters: hf.adapters, dtype, out });
    imports.push({ dtype, ms: s.ms, readMs: read.ms, bytesRead: s.bytesRead, bytesWritten: s.bytesWritten });
    console.error(`import ${dtype}: ${s.ms} ms for ${(s.bytesRead / 1e6).toFixed(0)} MB (reading them: ${read.ms.toFixed(0)} ms) -> ${(s.bytesWritten / 1e6).toFixed(0)} MB`);
  }

  const speed: Array<{ dtype: WeightDtype; batch: number; tokensPerSecond: number; rssMb: number; modelRssMb: number }> = [];
  for (const dtype of DTYPES) {
    for (const batch of BATCHES) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bench', 'import.ts'), '--child', join(MODELS, `xalma-bench-import-${dtype}`), '--rows', String(batch), '--tokens', String(tokens)], { encoding: 'utf8', cwd: REPO_ROOT });
      if (r.status !== 0) throw new Error(`child ${dtype} batch ${batch} failed: ${r.stderr}`);
      const res = JSON.parse(r.stdout.trim().split('\n').pop()!);
      speed.push({ dtype, batch, ...res });
      console.error(`${dtype} batch ${batch}: ${res.tokensPerSecond.toFixed(1)} tok/s, RSS ${res.rssMb.toFixed(0)} MB`);
    }
  }

  const at = (dtype: WeightDtype, batch: number) => speed.find((s) => s.dtype === dtype && s.batch === batch)!;
  const fp32Import = imports.find((i) => i.dtype === 'float32')!;
  const ratios = {
    importVsRead: Object.fromEntries(imports.map((i) => [i.dtype, i.ms / i.readMs])),
    int8VsFp32TokensBatch32: at('int8', 32).tokensPerSecond / at('float32', 32).tokensPerSecond,
    int8VsFp32TokensBatch1: at('int8', 1).tokensPerSecond / at('float32', 1).tokensPerSecond,
    int4VsFp32TokensBatch32: at('int4', 32).tokensPerSecond / at('float32', 32).tokensPerSecond,
    int4VsFp32TokensBatch1: at('int4', 1).tokensPerSecond / at('float32', 1).tokensPerSecond,
    int4VsFp32Rss: at('int4', 32).rssMb / at('float32', 32).rssMb,
    int8VsFp32Rss: at('int8', 32).rssMb / at('float32', 32).rssMb,
    int4VsFp32ModelRss: at('int4', 1).modelRssMb / at('float32', 1).modelRssMb,
  };
  const machine = machineInfo();
  const command = `npx tsx bench/import.ts${values.quick ? ' --quick' : ''}`;
  const md = [
    '# Import and quantized weights',
    '',
    `${machine.date}, ${machine.cpu} x${machine.cores}, node ${machine.node}, commit ${machine.commit}. Bench preset (12 layers, hidden 768, vocab 32000, LoRA rank 16) exported as an F16 Hugging Face checkpoint (2 base shards, 2 PEFT adapters) and imported back. Command: \`${command}\`.`,
    '',
    `## Import vs reading the same bytes (${cold ? 'cold page cache: dropped before each' : 'warm page cache: it could not be dropped'})`,
    '',
    '| dtype | import ms | read ms | ratio | checkpoint MB | package MB |',
    '|---|---|---|---|---|---|',
    ...imports.map((i) => `| ${i.dtype} | ${i.ms} | ${i.readMs.toFixed(0)} | ${(i.ms / i.readMs).toFixed(2)}x | ${(i.bytesRead / 1e6).toFixed(0)} | ${(i.bytesWritten / 1e6).toFixed(0)} |`),
    '',
    `## Decoding (single mode, ${tokens} new tokens per row, EOS ignored, median of 3)`,
    '',
    '| dtype | batch 1 tok/s | batch 32 tok/s | process RSS MB (batch 1 / 32) | added by the model MB (batch 1) |',
    '|---|---|---|---|---|',
    ...DTYPES.map((d) => `| ${d} | ${at(d, 1).tokensPerSecond.toFixed(1)} | ${at(d, 32).tokensPerSecond.toFixed(1)} | ${at(d, 1).rssMb.toFixed(0)} / ${at(d, 32).rssMb.toFixed(0)} | ${at(d, 1).modelRssMb.toFixed(0)} |`),
    '',
    '## Against DESIGN 4 / issue 10',
    '',
    '| ratio | measured | target | |',
    '|---|---|---|---|',
    `| import vs reading its bytes (fp32 / int8 / int4) | ${imports.map((i) => `${(i.ms / i.readMs).toFixed(2)}x`).join(' / ')} | <= 1.5x | ${Math.max(...Object.values(ratios.importVsRead)) <= 1.5 ? 'pass' : 'miss'} |`,
    `| int8 vs fp32 tokens/s, batch 32 | ${ratios.int8VsFp32TokensBatch32.toFixed(2)}x | >= 2x | ${ratios.int8VsFp32TokensBatch32 >= 2 ? 'pass' : 'miss'} |`,
    `| int4 RSS vs fp32, whole process at batch 32 | ${ratios.int4VsFp32Rss.toFixed(2)}x | <= 0.3x | ${ratios.int4VsFp32Rss <= 0.3 ? 'pass' : 'miss'} |`,
    `| int4 vs fp32, RSS the model added (batch 1) | ${ratios.int4VsFp32ModelRss.toFixed(2)}x | <= 0.3x | ${ratios.int4VsFp32ModelRss <= 0.3 ? 'pass' : 'miss'} |`,
    `| int8 / int4 vs fp32 tokens/s, batch 1 | ${ratios.int8VsFp32TokensBatch1.toFixed(2)}x / ${ratios.int4VsFp32TokensBatch1.toFixed(2)}x | | |`,
    `| int4 vs fp32 tokens/s, batch 32 | ${ratios.int4VsFp32TokensBatch32.toFixed(2)}x | | |`,
    '',
    `fp32 import throughput: ${((fp32Import.bytesRead / 1e6) / (fp32Import.ms / 1000)).toFixed(0)} MB/s of checkpoint.`,
    '',
  ].join('\n');
  await writeResults('import', { machine, command, tokens, coldCache: cold, imports, speed, ratios }, md);
  console.log(md);
}

if (values.child) await child(values.child, Number(values.rows), Number(values.tokens));
else await main();
