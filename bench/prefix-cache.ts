/**
 * The prompt-head cache (src/engine/prefix-cache.ts) on and off, in one process and one run,
 * on the bench preset: all mode (or --mode), 32 closed-loop clients (each sends its next request when its
 * last one is answered), 8 groups mixed (one group in single/merged), en -> de texts; output tokens/s. Engines with the cache
 * on and off run one after the other, alternating, `--rounds` times each (median), so that a
 * disturbance of the shared machine hits both alike. Short outputs are where prefill weighs
 * most, so two output lengths are measured: 16 tokens, and 32-95 (mean 64).
 *
 *   npx tsx bench/prefix-cache.ts [--rounds 3] [--mode all|single|merged]   (results: prefix-cache[-mode].md)
 */
import { parseArgs } from 'node:util';
import { createEngine } from '../src/engine/engine.ts';
import { DEFAULT_DECODING, type Engine, type LoadingMode } from '../src/engine/types.ts';
import { isXalmaError } from '../src/errors.ts';
import { ensureBenchModel, machineInfo, median, writeResults } from './common.ts';
import { TEXTS } from './lib/workload.ts';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, mode: { type: 'string', default: 'all' } } });
const rounds = Number(values.rounds);
const mode = values.mode as LoadingMode;
// single/merged run one group per batch: their traffic is group 1; all mode's is 8 groups mixed.
const groupOf = (i: number) => (mode === 'all' ? (i % 8) + 1 : 1);
const modelDir = await ensureBenchModel();
const CLIENTS = 32;
const PER_CLIENT = 2;

async function closedLoop(engine: Engine, newTokens: (i: number) => number): Promise<number> {
  let tokens = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, c) => {
      for (let k = 0; k < PER_CLIENT; k++) {
        const i = c * PER_CLIENT + k;
        const [out] = await engine.translateBatch([{ group: groupOf(i), sourceName: 'English', targetName: 'German', text: TEXTS[i % TEXTS.length], options: { ...DEFAULT_DECODING, maxNewTokens: newTokens(i), ignoreEos: true } }]);
        if (isXalmaError(out)) throw out;
        tokens += out.outputTokens;
      }
    }),
  );
  return tokens / ((performance.now() - start) / 1000);
}

const lengths: Array<{ name: string; newTokens: (i: number) => number }> = [
  { name: '16 tokens', newTokens: () => 16 },
  { name: '32-95 tokens', newTokens: (i) => 32 + ((i * 37) % 64) },
];
const results = [];
for (const { name, newTokens } of lengths) {
  const tps: Record<'on' | 'off', number[]> = { on: [], off: [] };
  let hits = 0;
  let headTokens = 0;
  for (let r = 0; r < rounds; r++) {
    for (const side of ['on', 'off'] as const) {
      const engine = await createEngine({ modelDir, mode, provider: 'cpu', verifyChecksums: false, limits: { prefixCacheBytes: side === 'on' ? 256 * 1024 ** 2 : 0 } });
      await closedLoop(engine, newTokens); // warm-up: sessions, and for 'on' the heads of all 8 groups
      const before = engine.stats();
      tps[side].push(await closedLoop(engine, newTokens));
      if (side === 'on') {
        hits += engine.stats().prefixHits - before.prefixHits;
        headTokens += engine.stats().prefixTokens - before.prefixTokens;
      }
      await engine.close();
      console.error(`${name}, round ${r + 1}, cache ${side}: ${tps[side].at(-1)!.toFixed(1)} tok/s`);
    }
  }
  const on = median(tps.on);
  const off = median(tps.off);
  results.push({ name, on, off, ratio: on / off, runs: tps, hitsPerRun: hits / rounds, headTokens: hits ? headTokens / hits : 0 });
}

const info = machineInfo();
const command = `npx tsx bench/prefix-cache.ts --rounds ${rounds}${mode === 'all' ? '' : ` --mode ${mode}`}`;
const lines = [
  '# Prompt-head cache on vs off',
  '',
  `${info.date}, ${info.cpu} x${info.cores}, node ${info.node}, commit ${info.commit}. Bench preset, ${mode} mode, in process, ${CLIENTS} closed-loop clients x ${PER_CLIENT} requests, ${mode === 'all' ? '8 groups mixed' : 'one group'}, medians of ${rounds} alternating runs. Command: \`${command}\`.`,
  '',
  '| output | cache on tok/s | cache off tok/s | on / off | runs on | runs off | hits per run | head tokens per hit |',
  '|---|---|---|---|---|---|---|---|',
  ...results.map((r) => `| ${r.name} | ${r.on.toFixed(1)} | ${r.off.toFixed(1)} | **${r.ratio.toFixed(2)}x** | ${r.runs.on.map((x) => x.toFixed(0)).join(', ')} | ${r.runs.off.map((x) => x.toFixed(0)).join(', ')} | ${r.hitsPerRun.toFixed(0)} of ${CLIENTS * PER_CLIENT} | ${r.headTokens.toFixed(0)} |`),
  '',
];
await writeResults(mode === 'all' ? 'prefix-cache' : `prefix-cache-${mode}`, { mode,  bench: 'prefix-cache', ...info, command, clients: CLIENTS, perClient: PER_CLIENT, results }, lines.join('\n'));
console.log(lines.join('\n'));
