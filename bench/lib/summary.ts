/**
 * The DESIGN 4 table: every ratio the design names, its target, pass/miss, and the result file
 * it comes from, read from the records the benches wrote under bench/results/. A ratio whose
 * bench did not run (or was skipped) is listed as "not measured", never dropped.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PeersRecord } from './peers-record.ts';

export interface SummaryRow {
  area: string;
  ratio: string;
  measured: number | null;
  unit: 'x' | 'ms' | '%' | '/s' | 'n';
  target: string;
  pass: boolean | null;
  source: string;
  note?: string;
}

// Result files of other benches, read loosely: a missing field reads as "not measured".
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

async function readJson(dir: string, name: string): Promise<Json | null> {
  const path = join(dir, name);
  return existsSync(path) ? (JSON.parse(await readFile(path, 'utf8')) as Json) : null;
}

/**
 * Result files from before `since` are from an earlier run: their rows say so, with the date
 * the record gives (a checkout sets every file's mtime to the clone time), else the mtime.
 */
function staleNote(dir: string, name: string, since: number | undefined): string | undefined {
  const path = join(dir, name);
  if (since === undefined || !existsSync(path)) return undefined;
  let when = statSync(path).mtime;
  try {
    const record = JSON.parse(readFileSync(path, 'utf8')) as Json;
    const recorded = record.machine?.date ?? record.date;
    if (typeof recorded === 'string' && !Number.isNaN(Date.parse(recorded))) when = new Date(recorded);
  } catch {
    // not JSON: keep the mtime
  }
  return when.getTime() < since ? `stale: from an earlier run, ${when.toISOString().slice(0, 16)}` : undefined;
}

/** bench/http.ts's latest record, if it ran. */
function newestHttp(dir: string): string | null {
  return existsSync(join(dir, 'http.json')) ? 'http.json' : null;
}

const finite = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);

function row(area: string, ratio: string, measured: unknown, unit: SummaryRow['unit'], target: string, test: (x: number) => boolean, source: string, note?: string): SummaryRow {
  const m = finite(measured);
  return { area, ratio, measured: m, unit, target, pass: m === null ? null : test(m), source, note };
}

export async function buildSummary(dir: string, since?: number): Promise<SummaryRow[]> {
  const rows: SummaryRow[] = [];
  const peers = (await readJson(dir, 'peers.json')) as PeersRecord | null;
  const engine = await readJson(dir, 'engine.json');
  const roofline = await readJson(dir, 'roofline.json');
  const imp = await readJson(dir, 'import.json');
  const detect = await readJson(dir, 'detect.json');
  const httpName = newestHttp(dir);
  const http = httpName ? await readJson(dir, httpName) : null;
  const pr = peers?.ratios ?? {};
  const atLeast = (t: number) => (x: number) => x >= t;
  const atMost = (t: number) => (x: number) => x <= t;

  rows.push(row('Batching', 'tokens/s, 32 concurrent requests vs one at a time (HTTP, merged mode vs the batch-1 server)', pr.batchingMergedC32VsNaive, 'x', '>= 8x', atLeast(8), 'peers.json'));
  rows.push(row('Batching', 'same, all mode with mixed traffic vs the batch-1 server', pr.batchingAllMixedC32VsNaive, 'x', '>= 8x', atLeast(8), 'peers.json'));
  rows.push(row('Batching', 'engine only: batch 32 vs batch 1 tokens/s (all mode)', engine?.ratios?.batch32VsBatch1, 'x', '>= 8x', atLeast(8), 'engine.json'));
  rows.push(row('Peers', 'tokens/s vs transformers.js, 32 concurrent (merged mode, same merged graph)', pr.peerMergedC32VsTransformersJs, 'x', '>= 3x', atLeast(3), 'peers.json'));
  rows.push(row('Peers', 'same, all mode', pr.peerAllC32VsTransformersJs, 'x', '>= 3x', atLeast(3), 'peers.json'));
  rows.push(row('Peers', 'single-request latency p50 vs transformers.js (merged mode; lower is better)', pr.singleRequestLatencyMergedVsTransformersJs, 'x', '<= 1x', atMost(1), 'peers.json', 'ours over HTTP, theirs in-process'));
  rows.push(row('Peers', 'same, all mode', pr.singleRequestLatencyAllVsTransformersJs, 'x', '<= 1x', atMost(1), 'peers.json'));
  rows.push(row('Mixed groups', 'all mode: mixed (8 groups) vs single-group tokens/s, 32 concurrent (HTTP)', pr.mixedVsSingleGroupAllC32, 'x', '>= 0.8x', atLeast(0.8), 'peers.json'));
  rows.push(row('Mixed groups', 'engine only: mixed vs single-group, batch 32', engine?.ratios?.mixedVsSingleGroupAt32, 'x', '>= 0.8x', atLeast(0.8), 'engine.json'));
  rows.push(row('single mode', 'switch to a cached module', engine?.modules?.switchMs, 'ms', '< 1 ms', (x) => x < 1, 'engine.json'));
  rows.push(row('single mode', 'cold module load vs reading its bytes', engine?.ratios?.coldLoadVsRead, 'x', '<= 1.5x', atMost(1.5), 'engine.json'));
  rows.push(row('HTTP path', 'translation-cache hits vs a bare fastify route, req/s', http?.ratios?.cacheHitsVsBare, 'x', '>= 0.5x', atLeast(0.5), httpName ?? 'http.json'));

  const cascade = (detect?.runs as Json[] | undefined)?.find((r) => String(r.name).startsWith('xalma'));
  rows.push(row('Detection', 'macro accuracy, NTREX sentences (50 languages)', cascade ? cascade.sentences.macro * 100 : null, '%', '>= 99%', atLeast(99), 'detect.json'));
  rows.push(row('Detection', 'macro accuracy, 3-word snippets', cascade ? cascade.snippets3.macro * 100 : null, '%', '>= 88%', atLeast(88), 'detect.json'));
  rows.push(row('Detection', 'detections/s (sentences; snippets in the note)', cascade?.sentences.detectionsPerSecond, '/s', '>= 5000/s', atLeast(5000), 'detect.json', cascade ? `snippets: ${Math.round(cascade.snippets3.detectionsPerSecond)}/s` : undefined));

  rows.push(row('Engine efficiency', 'batch-32 decode step FLOP/s vs ORT GEMM roofline, same shapes (merged graph)', roofline ? roofline.ratios.engineEfficiency * 100 : null, '%', '>= 50%', atLeast(50), 'roofline.json'));
  // The all-mode step with the default (grouped) kernel; records from before it was measured have only onehot.
  const allSteps = ((roofline?.steps as Json[] | undefined) ?? []).filter((s) => String(s.graph).startsWith('all mode'));
  const allStep = allSteps.find((s) => String(s.graph).includes('grouped')) ?? allSteps[0];
  rows.push(row('Engine efficiency', 'same, all-mode graph, 8 groups mixed (LoRA work counted as overhead)', allStep ? allStep.efficiency * 100 : null, '%', '>= 50%', atLeast(50), 'roofline.json', allStep ? String(allStep.graph).replace(/^all mode \((.*)\)$/, '$1') : undefined));
  const importRatio = imp ? Math.max(...(Object.values(imp.ratios.importVsRead) as number[])) : null;
  rows.push(row('Import', `converting an F16 HF checkpoint vs reading its bytes (worst of fp32/int8/int4${imp?.coldCache ? ', cold cache' : ''})`, importRatio, 'x', '<= 1.5x', atMost(1.5), 'import.json'));
  rows.push(row('Quantized weights', 'int8 vs fp32 tokens/s, batch 32 (single mode)', imp?.ratios?.int8VsFp32TokensBatch32, 'x', '>= 2x', atLeast(2), 'import.json'));
  rows.push(row('Quantized weights', 'int4 vs fp32 RSS (whole process, batch 32)', imp?.ratios?.int4VsFp32Rss, 'x', '<= 0.3x', atMost(0.3), 'import.json', imp?.ratios?.int4VsFp32ModelRss ? `RSS the model added: ${imp.ratios.int4VsFp32ModelRss.toFixed(2)}x` : undefined));
  // The engine core (bench/continuous.ts, bench/all-mode.ts; issue 11), in process.
  const cont = await readJson(dir, 'continuous.json');
  rows.push(row('Engine core', 'cost per token at 600 vs 100 generated tokens, 8 rows (merged)', cont?.length?.ratio, 'x', '<= 1.15x', atMost(1.15), 'continuous.json'));
  rows.push(row('Engine core', 'tokens/s, 32 closed-loop clients (all mode, 8 groups mixed) vs one request at a time', cont?.batching?.ratio, 'x', '>= 8x', atLeast(8), 'continuous.json'));
  rows.push(row('Engine core', 'time to first token p50, 32 clients vs idle', cont?.ttft?.ratio, 'x', '<= 3x', atMost(3), 'continuous.json'));
  const allMode = await readJson(dir, 'all-mode.json');
  const r80 = (allMode?.results as Json[] | undefined)?.filter((r) => r.preset === 'bench-r80' && String(r.config).includes('mixed'));
  const bestR80 = r80?.length ? Math.max(...r80.map((r) => r.vsMerged as number)) : null;
  rows.push(row('Mixed groups', 'all mode, 8 groups mixed vs merged single group, X-ALMA LoRA ratio (rank 80 / hidden 768), batch 32', bestR80, 'x', '>= 0.8x', atLeast(0.8), 'all-mode.json', 'the better of the onehot and grouped kernels'));
  // llama.cpp peer (bench/llamacpp.ts, issue 14): same weights, ours merged mode over HTTP vs llama.cpp in-process.
  const llama = await readJson(dir, 'llamacpp.json');
  const lr = llama?.ratios ?? {};
  const loadNote = llama?.loadAverage ? `load average ${Number(llama.loadAverage.start[0]).toFixed(1)} at start (shared machine)` : undefined;
  for (const [p, ours] of [['f32', 'fp32'], ['q8_0', 'int8'], ['q4_0', 'int4']] as const) {
    rows.push(row('llama.cpp peer', `tokens/s vs llama.cpp, 32 concurrent, ${ours} vs ${p} (merged mode vs merged GGUF)`, lr[`${p}.c32TokensPerSec`], 'x', '>= 1x', atLeast(1), 'llamacpp.json', loadNote));
    rows.push(row('llama.cpp peer', `single-request p50 latency vs llama.cpp, ${ours} vs ${p} (lower is better)`, lr[`${p}.singleP50`], 'x', '<= 1.5x', atMost(1.5), 'llamacpp.json', 'ours over HTTP, theirs in-process'));
  }
  rows.push(row('llama.cpp peer', 'mixed groups, 32 concurrent: all mode vs llama.cpp with one context per group (f32)', lr['f32.mixedC32TokensPerSec'], 'x', '>= 1x', atLeast(1), 'llamacpp.json'));
  // Soak (bench/soak.ts, issue 11): the server process under minutes of mixed traffic.
  const soak = await readJson(dir, 'soak.json');
  const soakNote = soak ? `${soak.tally.requests} requests, ${((soak.rss.samples.at(-1)?.s ?? 0) / 60).toFixed(0)} min; RSS slope ${soak.rss.slopeMiBPerMin.toFixed(1)} MiB/min` : undefined;
  rows.push(row('Soak', 'RSS at the end of the soak vs after warm-up (mixed traffic, streams, aborts)', soak?.rss?.ratio, 'x', '<= 1.1x', atMost(1.1), 'soak.json', soakNote));
  rows.push(row('Soak', 'failures: 5xx other than deliberate 503s, bad requests not 4xx, broken streams', soak?.tally?.failureCount, 'n', '0', (x) => x === 0, 'soak.json'));
  for (const r of rows) {
    const stale = staleNote(dir, r.source, since);
    if (stale) r.note = r.note ? `${r.note}; ${stale}` : stale;
  }
  return rows;
}

function fmt(r: SummaryRow): string {
  if (r.measured === null) return 'not measured';
  const m = r.measured;
  switch (r.unit) {
    case 'x': return `${m.toFixed(2)}x`;
    case 'ms': return `${m.toFixed(3)} ms`;
    case '%': return `${m.toFixed(1)}%`;
    case '/s': return `${Math.round(m)}/s`;
    case 'n': return String(m);
  }
}

export function summaryMarkdown(rows: SummaryRow[], header: string[]): string {
  const passed = rows.filter((r) => r.pass === true).length;
  const missed = rows.filter((r) => r.pass === false).length;
  return [
    ...header,
    '',
    `${passed} pass, ${missed} miss, ${rows.length - passed - missed} not measured.`,
    '',
    '| area | ratio | measured | target | | from | note |',
    '|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.area} | ${r.ratio} | ${fmt(r)} | ${r.target} | ${r.pass === null ? '-' : r.pass ? 'pass' : '**miss**'} | ${r.source} | ${r.note ?? ''} |`),
    '',
  ].join('\n');
}

/**
 * Where the time goes, from the same records: model steps vs JS inside a generation
 * (roofline.json), engine busy vs waiting and the batch sizes the scheduler formed at the
 * highest concurrency (peers.json), and the peer's ORT share.
 */
export async function profileMarkdown(dir: string): Promise<string> {
  const roofline = await readJson(dir, 'roofline.json');
  const peers = (await readJson(dir, 'peers.json')) as PeersRecord | null;
  const lines = ['## Where the time goes', ''];
  if (roofline) {
    lines.push(`GEMM roofline of one batch-${roofline.rows} decode step: ${roofline.rooflineMs.toFixed(1)} ms (${roofline.rooflineGflops.toFixed(1)} GFLOP/s); the engine's step graphs: ${(roofline.steps as Json[]).map((s) => `${s.graph} ${s.ms.toFixed(1)} ms`).join(', ')}.`, '');
    lines.push('| generation (merged runner) | wall ms | model steps (ORT + feeds) | of which prefill | JS around steps |', '|---|---|---|---|---|');
    for (const p of roofline.profile as Json[]) {
      lines.push(`| batch ${p.rows}, ${p.newTokens} tokens | ${p.wallMs.toFixed(0)} | ${(p.stepShare * 100).toFixed(1)}% | ${((p.prefillMs / p.wallMs) * 100).toFixed(0)}% | ${((p.jsMs / p.wallMs) * 100).toFixed(1)}% |`);
    }
    lines.push('');
  }
  if (peers) {
    const top = Math.max(...peers.cells.map((c) => c.concurrency));
    lines.push(`| at ${top} concurrent requests | output tok/s | engine busy (time in model steps; rest: waiting, HTTP, scheduling) | mean rows per decode step |`, '|---|---|---|---|');
    for (const c of peers.cells.filter((x) => x.concurrency === top)) {
      lines.push(`| ${c.system}, ${c.mode}, ${c.traffic} | ${c.median.tokensPerSec.toFixed(1)} | ${(c.engineBusyFraction * 100).toFixed(0)}% | ${c.meanBatchRows.toFixed(1)} |`);
    }
    const peer = peers.peer?.perConcurrency[String(top)];
    if (peer) lines.push(`| transformers.js | ${peer.median.tokensPerSec.toFixed(1)} | ${(peer.ortBusyFraction * 100).toFixed(0)}% with an ORT run in flight | 1 (no batching) |`);
    lines.push('');
  }
  return lines.join('\n');
}

/** Result files that came from --quick smoke runs (their figures are not the ones to quote). */
export async function quickSources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of ['engine.json', 'roofline.json', 'peers.json']) {
    const r = await readJson(dir, name);
    if (r && (r.quick === true || String(r.command ?? '').includes('--quick'))) out.push(name);
  }
  return out;
}
