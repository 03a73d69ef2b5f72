/**
 * all mode against merged mode at two LoRA-to-base ratios (issue 11): output tokens/s of a
 * batch of 32 rows (greedy, fixed length, EOS ignored; prefill included), in one process, the
 * configurations interleaved per repeat so that load drift hits them alike:
 *   - merged, one group (the reference design's best case);
 *   - all mode, 8 groups mixed, with the onehot kernel (every module for every row) and the
 *     grouped kernel (each row's own module only);
 *   - all mode, one group, grouped.
 * Models: the bench preset (rank 16 on hidden 768) and bench-r80 (rank 80 on hidden 768: X-ALMA's
 * rank 512 on hidden 5120, a module ~15% of the base).
 *
 *   npx tsx bench/all-mode.ts [--quick]
 */
import { parseArgs } from 'node:util';
import { createEngine } from '../src/engine/engine.ts';
import { DEFAULT_DECODING, type Engine, type TranslationItem } from '../src/engine/types.ts';
import type { StackedKernel } from '../src/model/graph-builder.ts';
import { isXalmaError } from '../src/errors.ts';
import { loadavg } from 'node:os';
import { ensureBenchModel, machineInfo, median, writeResults } from './common.ts';
import { NEW_TOKENS, TEXTS } from './lib/workload.ts';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const ROWS = 32;
const repeats = values.quick ? 1 : 3;

function items(mixed: boolean): TranslationItem[] {
  return Array.from({ length: ROWS }, (_, i) => ({
    group: mixed ? (i % 8) + 1 : 1,
    sourceName: 'English',
    targetName: 'German',
    text: TEXTS[i % TEXTS.length],
    options: { ...DEFAULT_DECODING, maxNewTokens: NEW_TOKENS, ignoreEos: true },
  }));
}

async function rate(engine: Engine, mixed: boolean): Promise<number> {
  const t0 = performance.now();
  const out = await engine.translateBatch(items(mixed));
  const s = (performance.now() - t0) / 1000;
  const tokens = out.reduce((n, o) => n + (isXalmaError(o) ? 0 : o.outputTokens), 0);
  if (tokens !== ROWS * NEW_TOKENS) throw new Error(`expected ${ROWS * NEW_TOKENS} tokens, got ${tokens}`);
  return tokens / s;
}

interface Config {
  name: string;
  mode: 'merged' | 'all';
  kernel?: StackedKernel;
  mixed: boolean;
}
const CONFIGS: Config[] = [
  { name: 'merged, one group', mode: 'merged', mixed: false },
  { name: 'all onehot, 8 groups mixed', mode: 'all', kernel: 'onehot', mixed: true },
  { name: 'all grouped, 8 groups mixed', mode: 'all', kernel: 'grouped', mixed: true },
  { name: 'all grouped, one group', mode: 'all', kernel: 'grouped', mixed: false },
];

const loadAtStart = loadavg()[0];
const results: Array<{ preset: string; rank: number; config: string; tokensPerSec: number; vsMerged: number }> = [];
for (const preset of ['bench', 'bench-r80'] as const) {
  const modelDir = await ensureBenchModel(preset);
  const engines = new Map<string, Engine>();
  for (const c of CONFIGS) {
    const key = `${c.mode}/${c.kernel ?? ''}`;
    if (!engines.has(key)) engines.set(key, await createEngine({ modelDir, mode: c.mode, provider: 'cpu', stackedKernel: c.kernel, maxMergedSessions: 1, verifyChecksums: false }));
  }
  const engineOf = (c: Config) => engines.get(`${c.mode}/${c.kernel ?? ''}`)!;
  for (const c of CONFIGS) await rate(engineOf(c), c.mixed); // untimed: ORT plans new shapes on first sight
  const samples = new Map<string, number[]>(CONFIGS.map((c) => [c.name, []]));
  for (let r = 0; r < repeats; r++) {
    for (const c of CONFIGS) samples.get(c.name)!.push(await rate(engineOf(c), c.mixed));
  }
  const rank = engineOf(CONFIGS[0]).manifest.lora.rank;
  const merged = median(samples.get(CONFIGS[0].name)!);
  for (const c of CONFIGS) {
    const tps = median(samples.get(c.name)!);
    results.push({ preset, rank, config: c.name, tokensPerSec: tps, vsMerged: tps / merged });
    console.error(`${preset} (rank ${rank}): ${c.name}: ${tps.toFixed(1)} tok/s, ${(tps / merged).toFixed(2)}x merged`);
  }
  for (const e of engines.values()) await e.close();
}

const info = machineInfo();
const command = `npx tsx bench/all-mode.ts${values.quick ? ' --quick' : ''}`;
const lines = [
  '# all mode vs merged mode at two LoRA ratios',
  '',
  `${info.date}, ${info.cpu} x${info.cores}, node ${info.node}, commit ${info.commit}, load average at start ${loadAtStart.toFixed(2)}. ` +
    `Batch of ${ROWS} rows, ${NEW_TOKENS} new tokens each (EOS ignored, prefill included), medians of ${repeats}, configurations interleaved. Command: \`${command}\`.`,
  '',
  '| model | LoRA rank / hidden | configuration | tokens/s | vs merged |',
  '|---|---|---|---|---|',
  ...results.map((r) => `| ${r.preset} | ${r.rank} / 768 | ${r.config} | ${r.tokensPerSec.toFixed(1)} | ${r.vsMerged.toFixed(2)}x |`),
  '',
  'Goal (issue 11): at the X-ALMA ratio (bench-r80), all mode with 8 groups mixed >= 0.8x merged mode with one group.',
  '',
];
await writeResults('all-mode', { bench: 'all-mode', ...info, command, loadAtStart, rows: ROWS, newTokens: NEW_TOKENS, repeats, results }, lines.join('\n'));
