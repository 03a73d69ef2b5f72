/**
 * llama.cpp as the performance peer (issue 14): the bench preset model served by us and run by
 * llama.cpp (node-llama-cpp 3.22.1, prebuilt CPU binary, in-process) on the same weights
 * (export-gguf), the same prompt ids, the same output length (EOS ignored), greedy decoding.
 *
 * Precisions: f32 GGUF vs our fp32 package; q8_0 vs our int8 package; q4_0 vs our int4 package
 * (the int8/int4 packages are bench/import.ts's imports of the same model; the GGUFs are
 * quantized by export-gguf from the fp32 weights, as llama-quantize would).
 * Scenarios per precision, single-group traffic (en -> de, group 1), LoRA merged on both sides
 * (our `merged` mode; a merged GGUF):
 *   - single request: tokens/s and p50 latency, ours over HTTP vs llama.cpp in-process;
 *   - 32 concurrent: ours (the scheduler's batches) vs llama.cpp with 32 sequences in one context;
 *   - prefill: prompt tokens/s of 1 and of 32 prompts at once (ours: maxNewTokens 1 over HTTP).
 * Mixed groups (f32, 32 concurrent, one target per group): our `all` mode vs llama.cpp with one
 * context per group (its LoRA adapters are per context), 4 sequences each, all 8 at once.
 * Plus llama.cpp with its default context settings (F16 KV cache, flash attention auto) at f32,
 * to show what the parity settings cost it.
 *
 * First, the correctness oracle (test/unit/export/llamacpp-oracle.test.ts) runs: llama.cpp and
 * our engine must agree token for token before their speeds are compared.
 * Warm-up waves are not timed; each figure is the median of `repeats` runs. The load average at
 * start and end is recorded: the machine may be shared.
 *
 *   npx tsx bench/llamacpp.ts [--quick] [--precisions f32,q8_0,q4_0] [--skip-oracle] [--skip-mixed]
 *                             [--llama-threads 1,2] [--model DIR (an fp32 package; default the bench preset)]
 *                             [--append: keep the cells of bench/results/llamacpp.json this run does not re-measure]
 *                             [--skip-default-ctx] [--llama-only: measure llama.cpp only (with --append: more thread counts)]
 *
 * Requests per measured run: 4 at concurrency 1 (p50 of 4), 32 at concurrency 32 (one full
 * wave, all sent together); bench/peers.ts sends two waves, which on this 2-core machine made a
 * run of three precisions x two systems x two llama.cpp thread counts take over an hour.
 * Results are written after each precision, so an interrupted run keeps what it measured.
 *
 * Results: bench/results/llamacpp.json and llamacpp.md, plot llamacpp.svg.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { encodePrompt, loadTokenizer } from '../src/engine/tokenizer.ts';
import { adapterPathFor, exportAdapterGguf, exportGguf, type GgufDtype } from '../src/export/llama-gguf.ts';
import { importCheckpoint } from '../src/import/importer.ts';
import { readManifestFile } from '../src/model/package.ts';
import type { WeightDtype } from '../src/model/weight-storage.ts';
import { REPO_ROOT } from '../src/paths.ts';
import { ensureBenchModel, machineInfo, RESULTS_DIR, writeResults } from './common.ts';
import { ensureHfCheckpoint } from './lib/hf-export.ts';
import { createParityContext, ensureNodeLlamaCpp, getCpuLlama, LLAMACPP_VERSION, llamaThreads, type LlamaContext, type LlamaModel } from './lib/llamacpp.ts';
import { llamaGenerate, llamaPrefill, SequencePool, sequencesNeeded } from './lib/llamacpp-load.ts';
import { httpLoad } from './lib/load.ts';
import { startServerProcess } from './lib/server-process.ts';
import { medianFigures, medianOf, type RunFigures } from './lib/stats.ts';
import { NEW_TOKENS, QUICK_NEW_TOKENS, translateBody, workItem, type Traffic } from './lib/workload.ts';
import { writeLlamacppPlot } from './plots.ts';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, precisions: { type: 'string' }, 'skip-oracle': { type: 'boolean', default: false }, 'skip-mixed': { type: 'boolean', default: false }, 'llama-threads': { type: 'string' }, model: { type: 'string' }, append: { type: 'boolean', default: false }, 'skip-default-ctx': { type: 'boolean', default: false }, 'llama-only': { type: 'boolean', default: false } } });
const quick = values.quick!;
const repeats = quick ? 1 : 3;
const newTokens = quick ? QUICK_NEW_TOKENS : NEW_TOKENS;
const CONCURRENT = 32;
/** Requests per measured run (see the header). */
const requestsPerRun = (concurrency: number) => (quick ? Math.max(2, concurrency) : Math.max(4, concurrency));
const MODELS = join(REPO_ROOT, 'bench', '.models');
const PRECISIONS: Array<{ gguf: GgufDtype; ours: WeightDtype }> = [
  { gguf: 'f32', ours: 'float32' },
  { gguf: 'q8_0', ours: 'int8' },
  { gguf: 'q4_0', ours: 'int4' },
].filter((p) => !values.precisions || values.precisions.split(',').includes(p.gguf)) as Array<{ gguf: GgufDtype; ours: WeightDtype }>;
/**
 * llama.cpp thread counts measured: 1 and the core count. On this shared 2-core machine its
 * spinning thread barrier collapses when the cores are oversubscribed (load ~12: 2 threads
 * ~1 tok/s, 1 thread ~17 tok/s, single request), so each comparison takes llama.cpp's best.
 */
const THREADS = [...new Set((values['llama-threads'] ?? `1,${llamaThreads()}`).split(',').map(Number))];
const loadAtStart = loadavg();
const started = Date.now();

export interface LlamacppCell {
  system: 'xalma-serve' | 'llama.cpp' | 'llama.cpp (default ctx)';
  precision: GgufDtype;
  /** ours: server mode; llama.cpp: merged GGUF or base + LoRA contexts. */
  setup: string;
  traffic: Traffic;
  concurrency: number;
  median: RunFigures;
  runs: RunFigures[];
}

export interface PrefillCell {
  system: 'xalma-serve' | 'llama.cpp';
  precision: GgufDtype;
  rows: number;
  /** llama.cpp's threads. */
  threads?: number;
  promptTokens: number;
  /** Median over repeats. */
  tokensPerSec: number;
  wallMs: number;
}

/** Our packages: the fp32 bench preset, and its int8/int4 imports (made here when bench/import.ts has not run). */
async function ourPackage(dtype: WeightDtype, fp32Dir: string): Promise<string> {
  if (dtype === 'float32') return fp32Dir;
  if (values.model) throw new Error(`--model ${values.model}: only f32 is measured on another package (the int8/int4 packages are imports of the bench preset)`);
  const dir = join(MODELS, `xalma-bench-import-${dtype}`);
  if (existsSync(join(dir, 'manifest.json'))) return dir;
  const hf = await ensureHfCheckpoint(fp32Dir, join(MODELS, 'xalma-bench-hf'), [1, 2]);
  await importCheckpoint({ base: hf.base, adapters: hf.adapters, dtype, out: dir });
  return dir;
}

const tokenizerCache = new Map<string, (i: number, traffic: Traffic) => number[]>();
/** Prompt ids of the i-th work item, as our server builds them (tokenizer.json + template). */
async function promptIdsFor(pkgDir: string): Promise<(i: number, traffic: Traffic) => number[]> {
  const hit = tokenizerCache.get(pkgDir);
  if (hit) return hit;
  const manifest = await readManifestFile(pkgDir);
  const tok = await loadTokenizer(join(pkgDir, manifest.tokenizer.file), manifest.tokenizer);
  const fn = (i: number, traffic: Traffic) => {
    const w = workItem(i, traffic);
    return encodePrompt(tok, { template: manifest.promptTemplate, sourceName: 'English', targetName: w.targetName, text: w.text });
  };
  tokenizerCache.set(pkgDir, fn);
  return fn;
}

const log = (c: { system: string; precision: string; setup: string; traffic: string; concurrency: number; median: RunFigures }) =>
  console.error(`${c.system.padEnd(24)} ${c.precision.padEnd(5)} ${c.setup.padEnd(22)} ${c.traffic.padEnd(12)} c=${String(c.concurrency).padStart(2)}: ${c.median.tokensPerSec.toFixed(1).padStart(7)} tok/s  p50 ${c.median.p50Ms.toFixed(0)} ms${c.median.shortRequests ? `  SHORT ${c.median.shortRequests}` : ''}${c.median.errors ? `  ERRORS ${c.median.errors}` : ''}`);

/** Flags as bench/peers.ts: no translation cache, room for every group. */
const SERVER_FLAGS = ['--max-batch-size', String(CONCURRENT), '--cache-bytes', '0', '--max-queue', '100000', '--max-resident-modules', '8', '--max-merged-sessions', '8'];

async function measureOurs(pkgDir: string, precision: GgufDtype, mode: string, traffic: Traffic, concurrencies: number[], prefill: boolean): Promise<{ cells: LlamacppCell[]; prefill: PrefillCell[] }> {
  const ids = await promptIdsFor(pkgDir);
  const server = await startServerProcess(pkgDir, ['--mode', mode, ...SERVER_FLAGS]);
  const cells: LlamacppCell[] = [];
  const prefills: PrefillCell[] = [];
  try {
    for (const concurrency of concurrencies) {
      const body = (i: number) => translateBody(workItem(i, traffic), newTokens);
      await httpLoad({ url: server.url, concurrency, requests: Math.max(8, concurrency), body, newTokens });
      const runs: RunFigures[] = [];
      for (let r = 0; r < repeats; r++) runs.push(await httpLoad({ url: server.url, concurrency, requests: requestsPerRun(concurrency), body, newTokens }));
      const cell: LlamacppCell = { system: 'xalma-serve', precision, setup: `${mode} mode`, traffic, concurrency, median: medianFigures(runs), runs };
      log(cell);
      cells.push(cell);
    }
    if (prefill) {
      for (const rows of [1, CONCURRENT]) {
        const body = (i: number) => translateBody(workItem(i, traffic), 1);
        const promptTokens = Array.from({ length: rows }, (_, i) => ids(i, traffic).length).reduce((a, b) => a + b, 0);
        await httpLoad({ url: server.url, concurrency: rows, requests: rows, body, newTokens: 1 });
        const walls: number[] = [];
        for (let r = 0; r < repeats; r++) walls.push((await httpLoad({ url: server.url, concurrency: rows, requests: rows, body, newTokens: 1 })).wallMs);
        const wallMs = medianOf(walls);
        prefills.push({ system: 'xalma-serve', precision, rows, promptTokens, wallMs, tokensPerSec: promptTokens / (wallMs / 1000) });
        console.error(`xalma-serve              ${precision.padEnd(5)} prefill ${rows} x prompt: ${(promptTokens / (wallMs / 1000)).toFixed(0)} prompt tok/s (${wallMs.toFixed(0)} ms)`);
      }
    }
  } finally {
    await server.stop();
  }
  return { cells, prefill: prefills };
}

const CONTEXT_PER_SEQUENCE = 256;

async function measureLlama(model: LlamaModel, idsOf: (i: number, traffic: Traffic) => number[], precision: GgufDtype, system: LlamacppCell['system'], concurrencies: number[], prefill: boolean, threads: number, defaults = false): Promise<{ cells: LlamacppCell[]; prefill: PrefillCell[] }> {
  const cells: LlamacppCell[] = [];
  const prefills: PrefillCell[] = [];
  const ctx = defaults
    ? await model.createContext({ sequences: CONCURRENT, contextSize: CONTEXT_PER_SEQUENCE, threads: { ideal: threads, min: threads } })
    : await createParityContext(model, { sequences: CONCURRENT, contextSize: CONTEXT_PER_SEQUENCE, threads });
  const pool = new SequencePool([ctx], CONCURRENT);
  try {
    for (const concurrency of concurrencies) {
      const opts = { pool, contextFor: () => ctx, concurrency, promptIds: (i: number) => idsOf(i, 'single-group'), newTokens };
      await llamaGenerate({ ...opts, requests: Math.max(8, concurrency) });
      const runs: RunFigures[] = [];
      for (let r = 0; r < repeats; r++) runs.push(await llamaGenerate({ ...opts, requests: requestsPerRun(concurrency) }));
      const cell: LlamacppCell = { system, precision, setup: `merged GGUF${defaults ? ', F16 KV' : ''}, ${threads} thr`, traffic: 'single-group', concurrency, median: medianFigures(runs), runs };
      log(cell);
      cells.push(cell);
    }
    if (prefill) {
      for (const rows of [1, CONCURRENT]) {
        const prompts = Array.from({ length: rows }, (_, i) => idsOf(i, 'single-group'));
        await llamaPrefill(pool, ctx, prompts);
        const res = [];
        for (let r = 0; r < repeats; r++) res.push(await llamaPrefill(pool, ctx, prompts));
        const wallMs = medianOf(res.map((x) => x.wallMs));
        prefills.push({ system: 'llama.cpp', precision, rows, threads, promptTokens: res[0].promptTokens, wallMs, tokensPerSec: res[0].promptTokens / (wallMs / 1000) });
        console.error(`llama.cpp ${threads} thr          ${precision.padEnd(5)} prefill ${rows} x prompt: ${(res[0].promptTokens / (wallMs / 1000)).toFixed(0)} prompt tok/s (${wallMs.toFixed(0)} ms)`);
      }
    }
  } finally {
    pool.dispose();
    await ctx.dispose();
  }
  return { cells, prefill: prefills };
}

/** llama.cpp on mixed traffic: base GGUF, one context per group with its LoRA adapter. */
async function measureLlamaMixed(llamaModel: LlamaModel, basePath: string, idsOf: (i: number, traffic: Traffic) => number[], threads: number): Promise<LlamacppCell> {
  const groups = [1, 2, 3, 4, 5, 6, 7, 8];
  const perContext = sequencesNeeded(CONCURRENT, groups.length);
  const contexts: LlamaContext[] = [];
  let pool: SequencePool | undefined;
  try {
    for (const g of groups) contexts.push(await createParityContext(llamaModel, { sequences: perContext, contextSize: CONTEXT_PER_SEQUENCE, lora: adapterPathFor(basePath, g), threads }));
    pool = new SequencePool(contexts, perContext);
    const opts = { pool, contextFor: (i: number) => contexts[workItem(i, 'mixed').group - 1], concurrency: CONCURRENT, promptIds: (i: number) => idsOf(i, 'mixed'), newTokens };
    await llamaGenerate({ ...opts, requests: CONCURRENT });
    const runs: RunFigures[] = [];
    for (let r = 0; r < repeats; r++) runs.push(await llamaGenerate({ ...opts, requests: requestsPerRun(CONCURRENT) }));
    const cell: LlamacppCell = { system: 'llama.cpp', precision: 'f32', setup: `base + LoRA, ${groups.length} contexts, ${threads} thr`, traffic: 'mixed', concurrency: CONCURRENT, median: medianFigures(runs), runs };
    log(cell);
    return cell;
  } finally {
    pool?.dispose();
    for (const c of contexts) await c.dispose();
  }
}

function runOracle(): { status: 'passed' | 'failed' | 'skipped'; seconds: number } {
  if (values['skip-oracle']) return { status: 'skipped', seconds: 0 };
  const t0 = Date.now();
  const res = spawnSync(process.execPath, [join(REPO_ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', 'test/unit/export/llamacpp-oracle.test.ts'], { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  return { status: res.status === 0 ? 'passed' : 'failed', seconds: (Date.now() - t0) / 1000 };
}

interface RunNote { date: string; command: string; loadAverage: { start: number[]; end: number[] }; oracle: { status: string; seconds: number } }
interface EarlierRecord { cells: LlamacppCell[]; prefill: PrefillCell[]; exports: Array<{ file: string; bytes: number; seconds: number }>; runs?: RunNote[]; date: string; command: string; loadAverage: RunNote['loadAverage']; oracle: RunNote['oracle'] }

/** --append: the earlier record's cells; a cell this run measures again replaces its earlier twin (see `merge`). */
async function earlierRun(): Promise<{ cells: LlamacppCell[]; prefill: PrefillCell[]; exports: EarlierRecord['exports']; runs: RunNote[] }> {
  const path = join(RESULTS_DIR, 'llamacpp.json');
  if (!values.append || !existsSync(path)) return { cells: [], prefill: [], exports: [], runs: [] };
  const r = JSON.parse(await readFile(path, 'utf8')) as EarlierRecord;
  return { cells: r.cells, prefill: r.prefill, exports: r.exports, runs: r.runs ?? [{ date: r.date, command: r.command, loadAverage: r.loadAverage, oracle: r.oracle }] };
}

const cellKey = (c: LlamacppCell) => `${c.system}|${c.precision}|${c.setup}|${c.traffic}|${c.concurrency}`;
const prefillKey = (p: PrefillCell) => `${p.system}|${p.precision}|${p.rows}|${p.threads ?? ''}`;
/** Adds new cells, replacing an earlier cell with the same key (--append). */
function merge<T>(into: T[], add: T[], key: (x: T) => string): void {
  for (const a of add) {
    const i = into.findIndex((x) => key(x) === key(a));
    if (i >= 0) into.splice(i, 1);
    into.push(a);
  }
}
let earlierRuns: RunNote[] = [];

async function main(): Promise<void> {
  const lib = await ensureNodeLlamaCpp();
  console.error(`load average at start: ${loadAtStart.map((x) => x.toFixed(2)).join(' ')} on ${availableParallelism()} cores; llama.cpp threads ${THREADS.join(',')}`);
  const oracle = runOracle();
  if (oracle.status === 'failed') throw new Error('the llama.cpp oracle failed: llama.cpp and our engine disagree, so their speeds are not comparable');
  const fp32Dir = values.model ?? (await ensureBenchModel());
  const ggufDir = join(MODELS, 'gguf');
  await mkdir(ggufDir, { recursive: true });
  const llama = await getCpuLlama(lib, Math.max(...THREADS));
  const earlier = await earlierRun();
  earlierRuns = earlier.runs;
  const cells: LlamacppCell[] = earlier.cells;
  const prefill: PrefillCell[] = earlier.prefill;
  const exports: Array<{ file: string; bytes: number; seconds: number }> = earlier.exports;
  const exportTimed = async (opts: Parameters<typeof exportGguf>[0]) => {
    const t0 = Date.now();
    const r = await exportGguf(opts);
    exports.push({ file: r.model.path.split('/').pop()!, bytes: r.model.bytes, seconds: (Date.now() - t0) / 1000 });
    return r;
  };
  /** Mixed groups: our all mode vs llama.cpp with one context per group (f32). */
  const mixedGroups = async () => {
    const basePath = join(ggufDir, 'bench-f32-base.gguf');
    const t0 = Date.now();
    await exportGguf({ modelDir: fp32Dir, group: 1, merged: false, dtype: 'f32', out: basePath });
    for (let g = 2; g <= 8; g++) await exportAdapterGguf({ modelDir: fp32Dir, group: g, out: adapterPathFor(basePath, g) });
    exports.push({ file: 'bench-f32-base.gguf + 8 adapters', bytes: 0, seconds: (Date.now() - t0) / 1000 });
    if (!values['llama-only']) merge(cells, (await measureOurs(fp32Dir, 'f32', 'all', 'mixed', [CONCURRENT], false)).cells, cellKey);
    const model = await llama.loadModel({ modelPath: basePath });
    try {
      merge(cells, [await measureLlamaMixed(model, basePath, await promptIdsFor(fp32Dir), bestThreads(cells))], cellKey);
    } finally {
      await model.dispose();
    }
    await report(cells, prefill, exports, oracle);
  };
  const mixedFirst = cells.some((c) => c.precision === 'f32' && c.system === 'llama.cpp');
  try {
    if (!values['skip-mixed'] && mixedFirst) await mixedGroups();
    for (const p of PRECISIONS) {
      const pkgDir = await ourPackage(p.ours, fp32Dir);
      const idsOf = await promptIdsFor(pkgDir);
      const path = join(ggufDir, `bench-${p.gguf}-group1-merged.gguf`);
      await exportTimed({ modelDir: fp32Dir, group: 1, merged: true, dtype: p.gguf, out: path });
      if (!values['llama-only']) {
        const ours = await measureOurs(pkgDir, p.gguf, 'merged', 'single-group', [1, CONCURRENT], true);
        merge(cells, ours.cells, cellKey);
        merge(prefill, ours.prefill, prefillKey);
      }
      const model = await llama.loadModel({ modelPath: path });
      try {
        // Both thread counts at f32; the quantized runs use f32's best (time: see the header).
        // Both thread counts at f32 (or the --llama-threads given); the quantized runs use f32's best (time: see the header).
        for (const t of p.gguf === 'f32' || values['llama-threads'] ? THREADS : [bestThreads(cells)]) {
          const theirs = await measureLlama(model, idsOf, p.gguf, 'llama.cpp', [1, CONCURRENT], true, t);
          merge(cells, theirs.cells, cellKey);
          merge(prefill, theirs.prefill, prefillKey);
        }
        if (p.gguf === 'f32' && !quick && !values['skip-default-ctx']) merge(cells, (await measureLlama(model, idsOf, p.gguf, 'llama.cpp (default ctx)', [CONCURRENT], false, bestThreads(cells), true)).cells, cellKey);
      } finally {
        await model.dispose();
      }
      await report(cells, prefill, exports, oracle);
    }
    if (!values['skip-mixed'] && !mixedFirst) await mixedGroups();
  } finally {
    await llama.dispose();
  }
}

/** llama.cpp's thread count with the best f32 32-concurrent throughput (for the runs made once). */
function bestThreads(cells: LlamacppCell[]): number {
  const f32 = cells.filter((c) => c.system === 'llama.cpp' && c.precision === 'f32' && c.concurrency === CONCURRENT && c.traffic === 'single-group');
  const best = f32.sort((a, b) => b.median.tokensPerSec - a.median.tokensPerSec)[0];
  return best ? Number(/(\d+) thr/.exec(best.setup)![1]) : llamaThreads();
}

/** Ours / llama.cpp's best configuration (highest tok/s or lowest p50 over its thread counts). */
function ratio(cells: LlamacppCell[], precision: GgufDtype, traffic: Traffic, concurrency: number, key: 'tokensPerSec' | 'p50Ms'): number {
  const match = (system: string) => cells.filter((c) => c.system === system && c.precision === precision && c.traffic === traffic && c.concurrency === concurrency);
  const o = match('xalma-serve')[0];
  const theirs = match('llama.cpp').map((c) => c.median[key]);
  if (!o || theirs.length === 0) return NaN;
  return o.median[key] / (key === 'p50Ms' ? Math.min(...theirs) : Math.max(...theirs));
}

async function report(cells: LlamacppCell[], prefill: PrefillCell[], exports: Array<{ file: string; bytes: number; seconds: number }>, oracle: { status: string; seconds: number }): Promise<void> {
  const info = machineInfo();
  const loadAtEnd = loadavg();
  const command = `npx tsx bench/llamacpp.ts${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}`;
  // Short keys for bench/lib/summary.ts, labels for the markdown.
  const ratios: Record<string, number> = {};
  const labels: Record<string, string> = {};
  const put = (key: string, label: string, v: number) => { ratios[key] = v; labels[key] = label; };
  for (const p of (['f32', 'q8_0', 'q4_0'] as const).filter((x) => cells.some((c) => c.precision === x && c.traffic === 'single-group'))) {
    put(`${p}.singleTokensPerSec`, `${p}: single request tok/s, ours / llama.cpp`, ratio(cells, p, 'single-group', 1, 'tokensPerSec'));
    put(`${p}.singleP50`, `${p}: single request p50 latency, ours / llama.cpp (goal <= 1.5)`, ratio(cells, p, 'single-group', 1, 'p50Ms'));
    put(`${p}.c32TokensPerSec`, `${p}: ${CONCURRENT} concurrent tok/s, ours / llama.cpp (goal >= 1.0)`, ratio(cells, p, 'single-group', CONCURRENT, 'tokensPerSec'));
    for (const rows of [1, CONCURRENT]) {
      const o = prefill.find((x) => x.system === 'xalma-serve' && x.precision === p && x.rows === rows);
      const l = Math.max(...prefill.filter((x) => x.system === 'llama.cpp' && x.precision === p && x.rows === rows).map((x) => x.tokensPerSec));
      put(`${p}.prefill${rows}`, `${p}: prefill of ${rows} prompt(s), prompt tok/s, ours / llama.cpp (best threads)`, o && Number.isFinite(l) ? o.tokensPerSec / l : NaN);
    }
  }
  put('f32.mixedC32TokensPerSec', `f32: mixed groups, ${CONCURRENT} concurrent tok/s, ours (all mode) / llama.cpp (one context per group)`, ratio(cells, 'f32', 'mixed', CONCURRENT, 'tokensPerSec'));
  const record = {
    bench: 'llamacpp', ...info, command, quick, repeats, newTokens, concurrent: CONCURRENT,
    peer: { system: 'llama.cpp', binding: `node-llama-cpp ${LLAMACPP_VERSION}`, threads: THREADS, contextPerSequence: CONTEXT_PER_SEQUENCE, parity: 'flashAttention false, F32 KV cache' },
    loadAverage: { start: loadAtStart, end: loadAtEnd }, oracle, exports,
    runs: [...earlierRuns, { date: new Date(started).toISOString(), command, loadAverage: { start: loadAtStart, end: loadAtEnd }, oracle }], serverFlags: SERVER_FLAGS, cells, prefill, ratios, minutes: (Date.now() - started) / 60000,
  };
  const fmt = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  const md = [
    '# llama.cpp peer benchmark',
    '',
    `${info.date}, ${info.cpu} x${info.cores}, node ${info.node}, commit ${info.commit}. Command: \`${command}\`.`,
    '',
    `**Load average at start ${loadAtStart.map((x) => x.toFixed(2)).join(' / ')} (1/5/15 min), at end ${loadAtEnd.map((x) => x.toFixed(2)).join(' / ')}, on ${info.cores} cores:** the machine was shared with other work while this ran, so absolute figures are noisy; both systems ran in turn under the same conditions.`,
    '',
    `Model: ${values.model ? `\`${values.model}\`` : 'the bench preset (~125M parameters: 12 layers, hidden 768, GQA 12/4, vocab 32000, LoRA rank 16)'}, group 1 (en -> de) unless mixed. ${newTokens} new tokens per request (EOS ignored), greedy, same prompt ids (our tokenizer; llama.cpp's tokenizer of the exported vocabulary gives the same ids, tested), warm-up untimed, median of ${repeats} runs of 4 requests (concurrency 1) or 32 (concurrency 32, one wave). Ours: the real server over HTTP (\`${SERVER_FLAGS.join(' ')}\`), translation cache off. llama.cpp: node-llama-cpp ${LLAMACPP_VERSION} in-process (no HTTP, no detokenization), measured at ${THREADS.join(' and ')} thread(s) (ratios take its best; on this shared machine its spinning barrier collapses at 2 threads when the cores are oversubscribed), flash attention off and F32 KV cache (the settings under which its logits match ours; "default ctx" rows: F16 KV, flash attention auto), ${CONCURRENT} sequences per context. Correctness first: the oracle test ${oracle.status}${oracle.seconds ? ` (${oracle.seconds.toFixed(0)} s)` : ''}.`,
    '',
    ...(earlierRuns.length ? [`Cells from ${earlierRuns.length + 1} runs (--append): ${[...earlierRuns, { date: new Date(started).toISOString(), command, loadAverage: { start: loadAtStart, end: loadAtEnd }, oracle }].map((r) => `${r.date.slice(0, 16)} \`${r.command}\` (load ${r.loadAverage.start[0].toFixed(1)} -> ${r.loadAverage.end[0].toFixed(1)}, oracle ${r.oracle.status})`).join('; ')}.`, ''] : []),
    '## Generation',
    '',
    '| system | precision | setup | traffic | concurrency | output tok/s | p50 ms | p90 ms | p99 ms | short | errors |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...cells.map((c) => `| ${c.system} | ${c.precision} | ${c.setup} | ${c.traffic} | ${c.concurrency} | ${fmt(c.median.tokensPerSec)} | ${fmt(c.median.p50Ms, 0)} | ${fmt(c.median.p90Ms, 0)} | ${fmt(c.median.p99Ms, 0)} | ${c.median.shortRequests} | ${c.median.errors} |`),
    '',
    '## Prefill (prompt tokens/s; ours: maxNewTokens 1 over HTTP, so one output token and the HTTP round trip are included)',
    '',
    '| system | precision | prompts at once | prompt tokens | ms | prompt tok/s |',
    '|---|---|---|---|---|---|',
    ...prefill.map((p) => `| ${p.system}${p.threads ? ` (${p.threads} thr)` : ''} | ${p.precision} | ${p.rows} | ${p.promptTokens} | ${fmt(p.wallMs, 0)} | ${fmt(p.tokensPerSec, 0)} |`),
    '',
    '## Ratios',
    '',
    '| ratio | value |',
    '|---|---|',
    ...Object.entries(ratios).map(([k, v]) => `| ${labels[k]} | ${fmt(v, 2)} |`),
    '',
    `GGUF exports (export-gguf, from the fp32 package): ${exports.map((e) => `${e.file} ${e.bytes ? `${(e.bytes / 1e6).toFixed(0)} MB ` : ''}in ${e.seconds.toFixed(1)} s`).join('; ')}.`,
    '',
  ].join('\n');
  await writeResults('llamacpp', record, md);
  await writeLlamacppPlot(record);
  console.error(`wrote bench/results/llamacpp.{md,json,svg} (${cells.length} cells so far)`);
  if (cells.some((c) => c.traffic === 'mixed') || values['skip-mixed']) console.log(md);
}

await main();
