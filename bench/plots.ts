/**
 * SVG plots of bench/results/peers.json, drawn with vega-lite (spec -> vega View -> toSVG,
 * headless: SVG needs no canvas):
 *   throughput-by-mode.svg     our server's output tokens/s vs concurrency, per mode and traffic
 *   throughput-by-system.svg   tokens/s vs concurrency: our server (merged, all), the naive
 *                              batch-1 server, transformers.js (single-group traffic)
 *   latency.svg                p50 / p90 / p99 request latency per system and concurrency
 *   llamacpp.svg               ours vs llama.cpp per precision and scenario (bench/llamacpp.ts)
 *
 *   npx tsx bench/plots.ts            (run-all calls `writePlots` after the benches)
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as vega from 'vega';
import * as vegaLite from 'vega-lite';
import { RESULTS_DIR } from './common.ts';
import type { PeersRecord } from './lib/peers-record.ts';

interface Point {
  series: string;
  concurrency: number;
  tokensPerSec: number;
}

interface LatencyPoint {
  system: string;
  concurrency: number;
  percentile: 'p50' | 'p90' | 'p99';
  ms: number;
}

const WIDTH = 420;
const HEIGHT = 260;

async function toSvg(spec: vegaLite.TopLevelSpec): Promise<string> {
  const compiled = vegaLite.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

function throughputSpec(title: string, subtitle: string, points: Point[]): vegaLite.TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, subtitle },
    width: WIDTH,
    height: HEIGHT,
    background: 'white',
    data: { values: points },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'concurrency', type: 'quantitative', scale: { type: 'log', base: 2 }, axis: { values: [...new Set(points.map((p) => p.concurrency))], title: 'concurrent requests' } },
      y: { field: 'tokensPerSec', type: 'quantitative', title: 'output tokens/s' },
      color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 2, labelLimit: 260 } },
    },
  };
}

function latencySpec(title: string, subtitle: string, points: LatencyPoint[]): vegaLite.TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, subtitle },
    background: 'white',
    data: { values: points },
    mark: 'bar',
    encoding: {
      column: { field: 'concurrency', type: 'ordinal', title: 'concurrent requests' },
      x: { field: 'system', type: 'nominal', title: null, axis: { labelAngle: -35, labelLimit: 200 } },
      xOffset: { field: 'percentile', type: 'nominal' },
      y: { field: 'ms', type: 'quantitative', title: 'request latency, ms' },
      color: { field: 'percentile', type: 'nominal', title: 'percentile', sort: ['p50', 'p90', 'p99'] },
    },
    // Latency grows ~30x from 1 to 32 requests: each panel gets its own linear axis.
    resolve: { scale: { y: 'independent' } },
    width: { step: 14 },
    height: HEIGHT,
  };
}

/** Writes the three SVGs from a peers record; returns their file names. */
export async function writePlots(record: PeersRecord, dir = RESULTS_DIR): Promise<string[]> {
  const ours = record.cells.filter((c) => c.system === 'xalma-serve');
  const byMode: Point[] = ours.map((c) => ({ series: `${c.mode} mode, ${c.traffic}`, concurrency: c.concurrency, tokensPerSec: c.median.tokensPerSec }));

  const systemName = (system: string, mode: string) => (system === 'xalma-serve' ? `xalma-serve (${mode})` : `${system}`);
  const singleGroup = record.cells.filter((c) => c.traffic === 'single-group' && (c.system !== 'xalma-serve' || c.mode === 'merged' || c.mode === 'all'));
  const bySystem: Point[] = singleGroup.map((c) => ({ series: systemName(c.system, c.mode), concurrency: c.concurrency, tokensPerSec: c.median.tokensPerSec }));
  const latency: LatencyPoint[] = singleGroup.flatMap((c) =>
    (['p50', 'p90', 'p99'] as const).map((p) => ({ system: systemName(c.system, c.mode), concurrency: c.concurrency, percentile: p, ms: c.median[`${p}Ms`] })),
  );
  for (const [c, v] of Object.entries(record.peer?.perConcurrency ?? {})) {
    bySystem.push({ series: 'transformers.js', concurrency: Number(c), tokensPerSec: v.median.tokensPerSec });
    for (const p of ['p50', 'p90', 'p99'] as const) latency.push({ system: 'transformers.js', concurrency: Number(c), percentile: p, ms: v.median[`${p}Ms`] });
  }

  const note = `${record.newTokens} new tokens/request, ${record.cpu} x${record.cores}, ${record.quick ? 'QUICK smoke run' : `median of ${record.repeats}`}`;
  const files: Array<[string, vegaLite.TopLevelSpec]> = [
    ['throughput-by-mode.svg', throughputSpec('xalma-serve throughput by mode', note, byMode)],
    ['throughput-by-system.svg', throughputSpec('Throughput by system, single-group traffic', note, bySystem)],
    ['latency.svg', latencySpec('Request latency, single-group traffic', note, latency)],
  ];
  for (const [name, spec] of files) await writeFile(join(dir, name), await toSvg(spec));
  return files.map(([name]) => name);
}

/** What the llama.cpp plot reads from bench/results/llamacpp.json (bench/llamacpp.ts). */
interface LlamacppPlotRecord {
  cpu: string;
  cores: number;
  quick: boolean;
  repeats: number;
  newTokens: number;
  loadAverage: { start: number[] };
  cells: Array<{ system: string; precision: string; setup: string; traffic: string; concurrency: number; median: { tokensPerSec: number } }>;
}

/** llamacpp.svg: output tokens/s, ours vs llama.cpp, per precision and scenario (grouped bars). */
export async function writeLlamacppPlot(record: LlamacppPlotRecord, dir = RESULTS_DIR): Promise<string> {
  const points = record.cells.map((c) => ({
    scenario: `${c.precision}, ${c.traffic === 'mixed' ? 'mixed groups' : 'one group'}, ${c.concurrency === 1 ? '1 request' : `${c.concurrency} concurrent`}`,
    system: `${c.system} (${c.setup})`,
    tokensPerSec: c.median.tokensPerSec,
  }));
  const note = `${record.newTokens} new tokens/request, ${record.cpu} x${record.cores}, ${record.quick ? 'QUICK smoke run' : `median of ${record.repeats}`}, load average at start ${record.loadAverage.start[0].toFixed(1)}`;
  const spec: vegaLite.TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'xalma-serve vs llama.cpp (same weights, greedy, EOS ignored)', subtitle: note },
    background: 'white',
    data: { values: points },
    mark: 'bar',
    encoding: {
      y: { field: 'scenario', type: 'nominal', title: null, sort: null, axis: { labelLimit: 260 } },
      yOffset: { field: 'system', type: 'nominal' },
      x: { field: 'tokensPerSec', type: 'quantitative', title: 'output tokens/s' },
      color: { field: 'system', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 1, labelLimit: 360 } },
    },
    width: WIDTH,
    height: { step: 10 },
  };
  await writeFile(join(dir, 'llamacpp.svg'), await toSvg(spec));
  return 'llamacpp.svg';
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const record = JSON.parse(await readFile(join(RESULTS_DIR, 'peers.json'), 'utf8')) as PeersRecord;
  console.log(`wrote ${(await writePlots(record)).join(', ')} to ${RESULTS_DIR}`);
}
