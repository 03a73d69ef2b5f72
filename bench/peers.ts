/**
 * Serving and peer benchmark (DESIGN 4: batching, peers, mixed groups), end to end over HTTP:
 *   - our server in each mode (all, single, merged), single-group (en->de) and mixed traffic
 *     (one target per group, all 8), at concurrency 1, 8, 32, driven by autocannon;
 *   - a naive baseline: the same server with --max-batch-size 1 (one request at a time);
 *   - transformers.js on the same merged ONNX graph and tokenizer, one pipeline call per
 *     request, same prompts, same concurrency (bench/peers-tjs.ts, its own process).
 * Every request asks for NEW_TOKENS tokens, fixed length (ours: the `ignoreEos` option; the
 * peer: min_new_tokens = max_new_tokens, EOS masked until then; every response is checked to
 * carry exactly that many tokens, see `shortRequests`), greedy, translation cache off.
 * Warm-up waves are not timed; each figure is the median of `repeats` runs.
 *
 *   npx tsx bench/peers.ts [--model DIR] [--quick] [--skip-peer] [--concurrency 1,8,32] [--modes all,single,merged]
 *
 * Results: bench/results/peers.json and peers.md.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '../src/paths.ts';
import { BENCH_MODEL_DIR, ensureBenchModel, machineInfo, writeResults } from './common.ts';
import { ensureHfModel } from './lib/hf-model.ts';
import { httpLoad } from './lib/load.ts';
import { startServerProcess, type ServerProcess } from './lib/server-process.ts';
import { medianFigures, type RunFigures } from './lib/stats.ts';
import { concurrencyList, NEW_TOKENS, QUICK_NEW_TOKENS, requestsFor, translateBody, workItem, type Traffic } from './lib/workload.ts';
import { peerRatios, type PeersRecord, type ServingCell } from './lib/peers-record.ts';

const { values } = parseArgs({ options: { model: { type: 'string' }, quick: { type: 'boolean', default: false }, 'skip-peer': { type: 'boolean', default: false }, concurrency: { type: 'string' }, modes: { type: 'string' } } });
const quick = values.quick!;
const repeats = quick ? 1 : 3;
const newTokens = quick ? QUICK_NEW_TOKENS : NEW_TOKENS;
const concurrency = concurrencyList(values.concurrency);
const modes = (values.modes ?? 'all,single,merged').split(',');
const modelDir = values.model ?? (await ensureBenchModel());

/** Engine time and batch sizes from the server's own /metrics, to tell waiting from work. */
async function engineCounters(url: string): Promise<{ batchSeconds: number; batches: number; rows: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const read = (name: string) => Number(new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? NaN);
  // The engine's step loop: time in model steps, and rows per decode step.
  return { batchSeconds: read('xalma_engine_step_seconds_total'), batches: read('xalma_engine_decode_steps_total'), rows: read('xalma_engine_decode_rows_total') };
}

async function measureCell(server: ServerProcess, system: string, mode: string, traffic: Traffic, concurrency: number): Promise<ServingCell> {
  const body = (i: number) => translateBody(workItem(i, traffic), newTokens);
  // Warm-up, untimed: one wave, at least one request per group.
  await httpLoad({ url: server.url, concurrency, requests: Math.max(8, concurrency), body, newTokens });
  const runs: RunFigures[] = [];
  const engine: Array<{ busy: number; meanBatch: number }> = [];
  for (let r = 0; r < repeats; r++) {
    const before = await engineCounters(server.url);
    const run = await httpLoad({ url: server.url, concurrency, requests: requestsFor(concurrency, quick), body, newTokens });
    const after = await engineCounters(server.url);
    runs.push(run);
    engine.push({ busy: (after.batchSeconds - before.batchSeconds) / (run.wallMs / 1000), meanBatch: (after.rows - before.rows) / Math.max(1, after.batches - before.batches) });
  }
  const median = medianFigures(runs);
  const sorted = (k: 'busy' | 'meanBatch') => engine.map((e) => e[k]).sort((a, b) => a - b)[engine.length >> 1];
  const cell: ServingCell = { system, mode, traffic, concurrency, median, runs, engineBusyFraction: sorted('busy'), meanBatchRows: sorted('meanBatch') };
  console.error(`${system.padEnd(22)} ${mode.padEnd(6)} ${traffic.padEnd(12)} c=${String(concurrency).padStart(2)}: ${median.tokensPerSec.toFixed(1).padStart(7)} tok/s  p50 ${median.p50Ms.toFixed(0)} ms  p99 ${median.p99Ms.toFixed(0)} ms  engine busy ${(cell.engineBusyFraction * 100).toFixed(0)}%  batch ${cell.meanBatchRows.toFixed(1)}${median.shortRequests ? `  SHORT ${median.shortRequests}` : ''}${median.errors ? `  ERRORS ${median.errors}` : ''}`);
  return cell;
}

/** Flags shared by every server run: no translation cache (each request is real work), room for all groups. */
const COMMON_FLAGS = ['--cache-bytes', '0', '--max-queue', '100000', '--max-resident-modules', '8', '--max-merged-sessions', '8'];

const cells: ServingCell[] = [];
for (const mode of modes) {
  const server = await startServerProcess(modelDir, ['--mode', mode, '--max-batch-size', '32', ...COMMON_FLAGS]);
  try {
    for (const traffic of ['single-group', 'mixed'] as const) {
      for (const c of concurrency) cells.push(await measureCell(server, 'xalma-serve', mode, traffic, c));
    }
  } finally {
    await server.stop();
  }
}

// Naive baseline: the merged graph (the cheapest step per row), one request at a time.
const naive = await startServerProcess(modelDir, ['--mode', 'merged', '--max-batch-size', '1', ...COMMON_FLAGS]);
try {
  for (const c of [...new Set([1, Math.max(...concurrency)])]) cells.push(await measureCell(naive, 'naive (batch 1)', 'merged', 'single-group', c));
} finally {
  await naive.stop();
}

let peer: PeersRecord['peer'] = null;
if (!values['skip-peer']) {
  const hfDir = await ensureHfModel({ packageDir: modelDir, outDir: join(BENCH_MODEL_DIR, '..', `${modelDir === BENCH_MODEL_DIR ? 'xalma-bench-demo' : 'custom'}-hf-group1`), group: 1 });
  const args = ['--import', 'tsx', join(REPO_ROOT, 'bench', 'peers-tjs.ts'), '--hf-dir', hfDir, '--package', modelDir, ...(quick ? ['--quick'] : []), ...(values.concurrency ? ['--concurrency', values.concurrency] : [])];
  const res = spawnSync(process.execPath, args, { cwd: REPO_ROOT, encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'inherit'] });
  if (res.status !== 0) throw new Error(`transformers.js child failed (exit ${res.status})`);
  peer = JSON.parse(res.stdout.trim().split('\n').pop()!);
}

const info = machineInfo();
const record: PeersRecord = {
  bench: 'peers',
  ...info,
  command: `npx tsx bench/peers.ts${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}`,
  model: modelDir,
  newTokens,
  repeats,
  quick,
  serverFlags: COMMON_FLAGS,
  cells,
  peer,
  ratios: {},
};
record.ratios = peerRatios(record);

const fmt = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');
const lines = [
  '# Serving and peer benchmark',
  '',
  `${info.date}, ${info.cpu} x${info.cores}, node ${info.node}, commit ${info.commit}. ${newTokens} new tokens per request (fixed length), greedy, translation cache off, median of ${repeats}. Command: \`${record.command}\`.`,
  '',
  '| system | mode | traffic | concurrency | output tok/s | p50 ms | p90 ms | p99 ms | engine busy | mean batch | short | errors |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ...cells.map((c) => `| ${c.system} | ${c.mode} | ${c.traffic} | ${c.concurrency} | ${fmt(c.median.tokensPerSec)} | ${fmt(c.median.p50Ms, 0)} | ${fmt(c.median.p90Ms, 0)} | ${fmt(c.median.p99Ms, 0)} | ${fmt(c.engineBusyFraction * 100, 0)}% | ${fmt(c.meanBatchRows)} | ${c.median.shortRequests} | ${c.median.errors} |`),
  ...(peer
    ? Object.entries(peer.perConcurrency).map(([c, v]) => `| transformers.js | merged graph, group 1 | single-group | ${c} | ${fmt(v.median.tokensPerSec)} | ${fmt(v.median.p50Ms, 0)} | ${fmt(v.median.p90Ms, 0)} | ${fmt(v.median.p99Ms, 0)} | ${fmt(v.ortBusyFraction * 100, 0)}% (ORT) | 1 | ${v.median.shortRequests} | ${v.median.errors} |`)
    : []),
  '',
  '"engine busy": share of wall time the engine was running a batch (from /metrics); for transformers.js, the share with an ORT run in flight.',
  '',
  '| ratio | value |',
  '|---|---|',
  ...Object.entries(record.ratios).map(([k, v]) => `| ${k} | ${fmt(v, 2)} |`),
  '',
];
await writeResults('peers', record, lines.join('\n'));
console.log(lines.join('\n'));
