/**
 * The translation engine: a model package, its tokenizer and one mode runner. `translateBatch`
 * turns items into X-ALMA prompts, asks the runner for the groups' modules, runs batched
 * generation and decodes. A group whose module fails gets its coded error in its items'
 * slots; the rest of the batch runs.
 */
import type { Logger } from 'pino';
import { XalmaError, isXalmaError } from '../errors.ts';
import { loadModelPackage } from '../model/package.ts';
import { readSafetensorsHeader } from '../model/safetensors.ts';
import type { StackedKernel } from '../model/graph-builder.ts';
import { DEFAULT_LIMITS, StepLoop, generateConfig, type LoopLimits } from './generate.ts';
import { IncrementalDetokenizer } from './detokenizer.ts';
import { createRunner, type ModeRunner } from './modes.ts';
import { encodePrompt, loadTokenizer, type TextTokenizer } from './tokenizer.ts';
import { commonPrefix } from './prefix-cache.ts';
import type { Engine, EngineHealth, EngineStats, LoadingMode, RowListener, TranslationItem, TranslationOutput } from './types.ts';
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
  /**
   * all mode: how rows get their own module; default 'grouped': equal to 'onehot' at the bench
   * preset's rank 16 (0.83x vs 0.82x merged mode, mixed groups) and far ahead at X-ALMA's
   * proportions (rank 80 on hidden 768: 0.76x vs 0.46x; bench/results/all-mode.md).
   */
  stackedKernel?: StackedKernel;
  /** Step loop limits (generate.ts): rows, reserved tokens and prefill tokens per turn. */
  limits?: Partial<LoopLimits>;
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
  private counters = { rows: 0, outputTokens: 0 };
  private readonly loop: StepLoop;
  /** promptHead per language pair (a few hundred pairs at most). */
  private readonly heads = new Map<string, number[]>();

  constructor(
    readonly manifest: Manifest,
    private readonly tokenizer: TextTokenizer,
    private readonly runner: ModeRunner,
    private readonly logger?: Logger,
    private readonly onStatsChange?: () => void,
    limits?: LoopLimits,
  ) {
    this.mixesGroups = runner.mode === 'all';
    this.loop = new StepLoop(generateConfig(manifest), limits);
  }

  get mode(): LoadingMode {
    return this.runner.mode;
  }

  get provider(): string {
    return this.runner.provider;
  }

  /**
   * Every item becomes a row of the engine's one step loop (generate.ts): rows of concurrent
   * calls batch together at step boundaries and each settles as soon as it is done. In single
   * and merged modes, rows of another group wait until the running group's rows are done.
   */
  async translateBatch(items: TranslationItem[], onRow?: RowListener): Promise<Array<TranslationOutput | XalmaError>> {
    return Promise.all(
      items.map(async (item, index) => {
        const result = await this.translateOne(item).catch((err: unknown) => (isXalmaError(err) ? err : new XalmaError('INTERNAL_ERROR', 'the engine failed a row', undefined, { cause: err })));
        onRow?.(index, result);
        return result;
      }),
    );
  }

  private async translateOne(item: TranslationItem): Promise<TranslationOutput | XalmaError> {
    if (item.signal?.aborted) return { text: '', promptTokens: 0, outputTokens: 0, finishReason: 'aborted' };
    const { dims } = this.manifest;
    // Tokenized and checked against the context at admission, before a module is touched.
    const promptIds = encodePrompt(this.tokenizer, { template: this.manifest.promptTemplate, sourceName: item.sourceName, targetName: item.targetName, text: item.text });
    const room = dims.maxPositions - promptIds.length;
    if (room < 1) {
      return new XalmaError('INPUT_TOO_LONG', `the prompt has ${promptIds.length} tokens; this model takes at most ${dims.maxPositions - 1}`, { promptTokens: promptIds.length, maxPositions: dims.maxPositions });
    }
    const { step, failed } = await this.runner.prepare([item.group]);
    this.onStatsChange?.();
    try {
      const err = failed.get(item.group);
      if (err) return err;
      if (!step) throw new XalmaError('INTERNAL_ERROR', `no step for group ${item.group}`);
      const options = { ...item.options, maxNewTokens: Math.min(item.options.maxNewTokens, room) };
      const detok = item.onText ? new IncrementalDetokenizer(this.tokenizer, { skipSpecialTokens: true }) : null;
      const onToken = detok && item.onText ? (token: number) => {
        const text = detok.push(token);
        if (text) item.onText!(text);
      } : undefined;
      const prefixLength = Math.min(commonPrefix(promptIds, this.promptHead(item.sourceName, item.targetName)), promptIds.length - 1);
      const o = await this.loop.submit({ promptIds, options, module: item.group, signal: item.signal, onToken, prefixLength }, step);
      const tail = detok?.flush();
      if (tail) item.onText!(tail);
      // A stop at a cap the context imposed (below the caller's maxNewTokens) is a cut, not a length the caller chose.
      const contextCut = o.finishReason === 'length' && options.maxNewTokens < item.options.maxNewTokens && o.tokens.length >= options.maxNewTokens;
      this.counters.rows++;
      this.counters.outputTokens += o.tokens.length;
      return {
        text: this.tokenizer.decode(o.tokens, { skipSpecialTokens: true }),
        promptTokens: promptIds.length,
        outputTokens: o.tokens.length,
        finishReason: contextCut ? 'context' : o.finishReason,
      };
    } finally {
      if (step) this.runner.release([item.group]);
      this.onStatsChange?.();
    }
  }

  /**
   * The ids every prompt of a language pair starts with: where the prompts of two different
   * one-letter texts part. A prompt shares them up to where its own tokenization departs.
   */
  private promptHead(sourceName: string, targetName: string): number[] {
    const key = `${sourceName}\u0000${targetName}`;
    let head = this.heads.get(key);
    if (!head) {
      const prompt = (text: string) => encodePrompt(this.tokenizer, { template: this.manifest.promptTemplate, sourceName, targetName, text });
      const a = prompt('a');
      head = a.slice(0, commonPrefix(a, prompt('b')));
      this.heads.set(key, head);
    }
    return head;
  }

  async warmup(): Promise<void> {
    const started = Date.now();
    const group = this.manifest.groups[0].id;
    const [r] = await this.translateBatch([{ group, sourceName: 'English', targetName: 'English', text: 'warm up', options: { ...DEFAULT_DECODING, maxNewTokens: 2 } }]);
    if (r instanceof XalmaError) throw r;
    this.logger?.info({ ms: Date.now() - started, mode: this.mode }, 'engine warm');
  }

  stats(): EngineStats {
    const loop = this.loop.stats;
    return { ...this.counters, batches: loop.prefills, decodeSteps: loop.decodes, decodeRows: loop.decodeRows, stepMs: loop.stepMs, prefixHits: loop.prefixHits, prefixTokens: loop.prefixTokens, ...this.runner.stats() };
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
    stackedKernel: options.stackedKernel ?? 'grouped',
    verifyChecksums: verify,
  });
  options.logger?.info({ model: pkg.manifest.name, mode: runner.mode, provider: runner.provider, demo: pkg.manifest.demo }, 'engine ready');
  return new TranslationEngine(pkg.manifest, tokenizer, runner, options.logger, options.onStatsChange, { ...DEFAULT_LIMITS, ...options.limits });
}
