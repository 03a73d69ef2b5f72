/**
 * The translation engine: a model package, its tokenizer and one mode runner. `translateBatch`
 * turns items into X-ALMA prompts, asks the runner for the groups' modules, runs batched
 * generation and decodes. A group whose module fails gets its coded error in its items'
 * slots; the rest of the batch runs.
 */
import type { Logger } from 'pino';
import { XalmaError } from '../errors.ts';
import { loadModelPackage } from '../model/package.ts';
import { readSafetensorsHeader } from '../model/safetensors.ts';
import type { StackedKernel } from '../model/graph-builder.ts';
import { generate, type GenRequest } from './generate.ts';
import { createRunner, type ModeRunner } from './modes.ts';
import { encodePrompt, loadTokenizer, type TextTokenizer } from './tokenizer.ts';
import type { Engine, EngineHealth, EngineStats, LoadingMode, TranslationItem, TranslationOutput } from './types.ts';
import { DEFAULT_DECODING } from './types.ts';
import type { Manifest } from '../model/manifest-types.ts';

export interface EngineOptions {
  modelDir: string;
  mode: LoadingMode;
  provider: 'cpu' | 'cuda';
  cudaDeviceId?: number;
  cudaMemLimitMb?: number;
  intraOpThreads?: number;
  interOpThreads?: number;
  /** single mode: most modules resident (LRU); default 2. */
  maxResidentModules?: number;
  /** single mode: most bytes of resident modules; default 4 GiB. */
  maxModuleBytes?: number;
  /** merged mode: most merged sessions resident (LRU); default 2. */
  maxMergedSessions?: number;
  /** all mode: stacked LoRA kernel; default 'onehot' (faster, bench/results/graph-ops.md). */
  stackedKernel?: StackedKernel;
  /** Verify sha256 of package files and of each module's first load; default true. */
  verifyChecksums?: boolean;
  logger?: Logger;
  /**
   * Called whenever `stats()` may have changed: once a batch's modules are in place (loads,
   * evictions, hits) and once the batch is over, before translateBatch returns. The engine
   * worker pushes its counters from here, so its proxy's stats are never a batch behind.
   */
  onStatsChange?: () => void;
}

class TranslationEngine implements Engine {
  readonly mixesGroups: boolean;
  private counters = { batches: 0, rows: 0, outputTokens: 0 };

  constructor(
    readonly manifest: Manifest,
    private readonly tokenizer: TextTokenizer,
    private readonly runner: ModeRunner,
    private readonly logger?: Logger,
    private readonly onStatsChange?: () => void,
  ) {
    this.mixesGroups = runner.mode === 'all';
  }

  get mode(): LoadingMode {
    return this.runner.mode;
  }

  get provider(): string {
    return this.runner.provider;
  }

  async translateBatch(items: TranslationItem[]): Promise<Array<TranslationOutput | XalmaError>> {
    const results: Array<TranslationOutput | XalmaError | undefined> = new Array(items.length);
    const groups = [...new Set(items.map((i) => i.group))];
    if (!this.mixesGroups && groups.length > 1) throw new XalmaError('INTERNAL_ERROR', `${this.mode} mode runs one group per batch, got ${groups.join(',')}`);
    const { dims } = this.manifest;

    const work: Array<{ index: number; req: GenRequest }> = [];
    const { step, failed } = await this.runner.prepare(groups);
    this.onStatsChange?.();
    try {
      items.forEach((item, index) => {
        const err = failed.get(item.group);
        if (err) return void (results[index] = err);
        if (item.signal?.aborted) return void (results[index] = { text: '', promptTokens: 0, outputTokens: 0, finishReason: 'aborted' });
        const promptIds = encodePrompt(this.tokenizer, { template: this.manifest.promptTemplate, sourceName: item.sourceName, targetName: item.targetName, text: item.text });
        const room = dims.maxPositions - promptIds.length;
        if (room < 1) {
          results[index] = new XalmaError('INPUT_TOO_LONG', `the prompt has ${promptIds.length} tokens; this model takes at most ${dims.maxPositions - 1}`, { promptTokens: promptIds.length, maxPositions: dims.maxPositions });
          return;
        }
        const options = { ...item.options, maxNewTokens: Math.min(item.options.maxNewTokens, room) };
        work.push({ index, req: { promptIds, options, module: item.group, signal: item.signal } });
      });
      if (work.length > 0 && step) {
        const out = await generate(step, work.map((w) => w.req), {
          vocabSize: dims.vocabSize,
          eosId: this.manifest.tokenizer.eosId,
          padId: this.manifest.tokenizer.padId,
          kvHeads: dims.numKvHeads,
          headDim: dims.headDim,
        });
        out.forEach((o, k) => {
          const { index, req } = work[k];
          // A stop at a cap the context imposed (below the caller's maxNewTokens) is a cut, not a length the caller chose.
          const contextCut = o.finishReason === 'length' && req.options.maxNewTokens < items[index].options.maxNewTokens && o.tokens.length >= req.options.maxNewTokens;
          results[index] = {
            text: this.tokenizer.decode(o.tokens, { skipSpecialTokens: true }),
            promptTokens: req.promptIds.length,
            outputTokens: o.tokens.length,
            finishReason: contextCut ? 'context' : o.finishReason,
          };
          this.counters.outputTokens += o.tokens.length;
        });
        this.counters.batches++;
        this.counters.rows += work.length;
      }
    } finally {
      if (step) this.runner.release(groups);
      this.onStatsChange?.();
    }
    // Every item got an output or an error above; a hole is a bug here, not a module problem.
    return results.map((r) => r ?? new XalmaError('INTERNAL_ERROR', 'the engine produced no result for an item'));
  }

  async warmup(): Promise<void> {
    const started = Date.now();
    const group = this.manifest.groups[0].id;
    const [r] = await this.translateBatch([{ group, sourceName: 'English', targetName: 'English', text: 'warm up', options: { ...DEFAULT_DECODING, maxNewTokens: 2 } }]);
    if (r instanceof XalmaError) throw r;
    this.logger?.info({ ms: Date.now() - started, mode: this.mode }, 'engine warm');
  }

  stats(): EngineStats {
    return { ...this.counters, ...this.runner.stats() };
  }

  /** In process there is no worker to replace: serving until the process ends. */
  health(): EngineHealth {
    return { state: 'serving', restarts: 0 };
  }

  async close(): Promise<void> {
    await this.runner.close();
  }
}

export async function createEngine(options: EngineOptions): Promise<Engine> {
  const verify = options.verifyChecksums ?? true;
  const pkg = await loadModelPackage(options.modelDir, { verifyChecksums: verify });
  const header = await readSafetensorsHeader(pkg.weightsPath);
  const tokenizer = await loadTokenizer(pkg.tokenizerPath);
  const runner = await createRunner(options.mode, {
    pkg,
    header,
    session: {
      provider: options.provider,
      cudaDeviceId: options.cudaDeviceId,
      cudaMemLimitBytes: options.cudaMemLimitMb ? options.cudaMemLimitMb * 1024 * 1024 : undefined,
      intraOpThreads: options.intraOpThreads,
      interOpThreads: options.interOpThreads,
      logger: options.logger,
    },
    maxResidentModules: options.maxResidentModules ?? 2,
    maxModuleBytes: options.maxModuleBytes ?? 4 * 1024 ** 3,
    maxMergedSessions: options.maxMergedSessions ?? 2,
    stackedKernel: options.stackedKernel ?? 'onehot',
    verifyChecksums: verify,
  });
  options.logger?.info({ model: pkg.manifest.name, mode: runner.mode, provider: runner.provider, demo: pkg.manifest.demo }, 'engine ready');
  return new TranslationEngine(pkg.manifest, tokenizer, runner, options.logger, options.onStatsChange);
}
