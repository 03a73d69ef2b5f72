/**
 * `npm run bench`: every benchmark in one process tree on this machine, then the DESIGN 4
 * summary and the plots.
 *
 *   1. the `bench` preset model package (made once under bench/.models/, not in git);
 *   2. the benches, each in its own child process, one after the other (never two at once:
 *      they would share the cores they measure):
 *        engine.ts     batching, mixed groups, module switch/cold load (in-process engine)
 *        graph-ops.ts  graph op choices (skipped with --quick)
 *        detect.ts     language detection over NTREX-50
 *        http.ts       bare fastify route vs translation-cache hits (when present)
 *        roofline.ts   GEMM roofline, engine efficiency, time profile of a generation
 *        peers.ts      our server per mode/traffic/concurrency, naive batch-1, transformers.js
 *        import.ts     HF checkpoint import vs reading it; int8/int4 vs fp32 speed and RSS
 *        llamacpp.ts   llama.cpp (node-llama-cpp, installed on first run) on the same weights:
 *                      oracle, single request, 32 concurrent, mixed groups, prefill, per precision
 *        continuous.ts the step loop: cost per token vs length, closed-loop batching, TTFT
 *        all-mode.ts   all mode's LoRA kernels vs merged, at rank 16 and X-ALMA's ratio
 *        prefix-cache.ts  the prompt-head cache on vs off, closed-loop clients
 *        soak.ts       10 minutes of mixed traffic: RSS drift and any 5xx
 *   3. bench/results/summary.{md,json}: each DESIGN 4 ratio, target, pass/miss; SVG plots.
 * A bench that fails is reported (and its rows marked stale or not measured); the rest run.
 *
 *   npm run bench                   full run (median of 3 everywhere)
 *   npm run bench -- --quick        smoke run: 1 repeat, few requests, short generations
 *   npm run bench -- --only roofline,peers   a subset (summary still covers every row; rows
 *                                            from benches that did not run are marked stale)
 *   npm run bench -- --summary-only          rebuild summary and plots from bench/results/
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '../src/paths.ts';
import { ensureBenchModel, machineInfo, RESULTS_DIR } from './common.ts';
import { buildSummary, profileMarkdown, quickSources, summaryMarkdown } from './lib/summary.ts';
import type { PeersRecord } from './lib/peers-record.ts';
import { writeLlamacppPlot, writePlots } from './plots.ts';

interface Step {
  name: string;
  script: string;
  args: (quick: boolean) => string[];
  /** Part of a --quick run. */
  inQuick: boolean;
}

const STEPS: Step[] = [
  { name: 'engine', script: 'bench/engine.ts', args: (q) => (q ? ['--quick'] : []), inQuick: true },
  { name: 'graph-ops', script: 'bench/graph-ops.ts', args: () => [], inQuick: false },
  { name: 'detect', script: 'bench/detect.ts', args: () => [], inQuick: true },
  { name: 'http', script: 'bench/http.ts', args: (q) => (q ? ['--duration', '3'] : []), inQuick: true },
  { name: 'roofline', script: 'bench/roofline.ts', args: (q) => (q ? ['--quick'] : []), inQuick: true },
  { name: 'peers', script: 'bench/peers.ts', args: (q) => (q ? ['--quick'] : []), inQuick: true },
  { name: 'import', script: 'bench/import.ts', args: (q) => (q ? ['--quick'] : []), inQuick: true },
  { name: 'llamacpp', script: 'bench/llamacpp.ts', args: (q) => (q ? ['--quick'] : []), inQuick: true },
  { name: 'continuous', script: 'bench/continuous.ts', args: (q) => (q ? ['--quick'] : []), inQuick: true },
  { name: 'all-mode', script: 'bench/all-mode.ts', args: (q) => (q ? ['--quick'] : []), inQuick: false },
  { name: 'prefix-cache', script: 'bench/prefix-cache.ts', args: () => [], inQuick: false },
  { name: 'soak', script: 'bench/soak.ts', args: (q) => (q ? ['--minutes', '1', '--warmup', '15'] : []), inQuick: true },
];

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, only: { type: 'string' }, 'summary-only': { type: 'boolean', default: false } } });
const quick = values.quick!;
const summaryOnly = values['summary-only']!;
const only = summaryOnly ? new Set<string>() : values.only ? new Set(values.only.split(',')) : null;
const started = Date.now();

if (!summaryOnly) await ensureBenchModel();
const ran: Array<{ name: string; command: string; status: 'ok' | 'failed' | 'skipped'; seconds: number; reason?: string }> = [];
for (const step of STEPS) {
  const command = `npx tsx ${step.script} ${step.args(quick).join(' ')}`.trim();
  if (only && !only.has(step.name)) {
    ran.push({ name: step.name, command, status: 'skipped', seconds: 0, reason: summaryOnly ? '--summary-only' : 'not in --only' });
    continue;
  }
  if (quick && !step.inQuick) {
    ran.push({ name: step.name, command, status: 'skipped', seconds: 0, reason: 'not part of --quick' });
    continue;
  }
  if (!existsSync(join(REPO_ROOT, step.script))) {
    ran.push({ name: step.name, command, status: 'skipped', seconds: 0, reason: `${step.script} is absent` });
    continue;
  }
  console.error(`\n=== ${command}`);
  const t0 = Date.now();
  const res = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, step.script), ...step.args(quick)], { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  const seconds = (Date.now() - t0) / 1000;
  const ok = res.status === 0;
  ran.push({ name: step.name, command, status: ok ? 'ok' : 'failed', seconds, ...(ok ? {} : { reason: `exit ${res.status ?? res.signal}` }) });
  console.error(`=== ${step.name}: ${ok ? 'ok' : 'FAILED'} in ${seconds.toFixed(0)} s`);
}

const info = machineInfo();
const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
// --summary-only rebuilds from whatever results are there, so nothing is "stale" by definition.
const rows = await buildSummary(RESULTS_DIR, summaryOnly ? undefined : started);
let plots: string[] = [];
if (existsSync(join(RESULTS_DIR, 'peers.json'))) {
  plots = await writePlots(JSON.parse(await readFile(join(RESULTS_DIR, 'peers.json'), 'utf8')) as PeersRecord);
}
if (existsSync(join(RESULTS_DIR, 'llamacpp.json'))) {
  plots.push(await writeLlamacppPlot(JSON.parse(await readFile(join(RESULTS_DIR, 'llamacpp.json'), 'utf8')) as Parameters<typeof writeLlamacppPlot>[0]));
}
const totalSeconds = (Date.now() - started) / 1000;
const fromQuick = await quickSources(RESULTS_DIR);
const header = [
  '# Benchmark summary (DESIGN 4)',
  '',
  `${info.date}, commit ${info.commit}, ${info.cpu} x${info.cores} cores, ${info.memGiB} GiB, ${info.os}, node ${info.node}. Command: \`${command}\` (${(totalSeconds / 60).toFixed(1)} min).`,
  '',
  ...(fromQuick.length ? [`**From --quick smoke runs (1 repeat, few requests, short generations; not the figures to quote): ${fromQuick.join(', ')}.**`, ''] : []),
  `Benches: ${ran.map((r) => `${r.name} ${r.status}${r.status === 'ok' ? ` (${r.seconds.toFixed(0)} s)` : r.reason ? ` (${r.reason})` : ''}`).join(', ')}.`,
];
const plotLines = plots.length ? ['', '## Plots', '', ...plots.map((p) => `![${p}](${p})`), ''] : [];
const md = summaryMarkdown(rows, header) + '\n' + (await profileMarkdown(RESULTS_DIR)) + plotLines.join('\n');
await writeFile(join(RESULTS_DIR, 'summary.md'), md);
await writeFile(join(RESULTS_DIR, 'summary.json'), JSON.stringify({ bench: 'summary', ...info, command, quick, totalSeconds, steps: ran, rows, plots }, null, 2) + '\n');
console.log(md);
if (ran.some((r) => r.status === 'failed')) process.exitCode = 1;
