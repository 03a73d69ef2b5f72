import type { XalmaError } from '../errors.ts';
import type { Manifest } from '../model/manifest-types.ts';

export type RowListener = (index: number, result: TranslationOutput | XalmaError) => void;

/** How LoRA modules are held (DESIGN 1, "three loading methods"). */
export type LoadingMode = 'single' | 'merged' | 'all';

export interface DecodingOptions {
  /** Hard cap on generated tokens (EOS stops earlier). */
  maxNewTokens: number;
  /** 1 = greedy (or sampling when `sample`); >1 = beam search. */
  beams: number;
  /** Beam score = logprob / length^lengthPenalty (HF convention). */
  lengthPenalty: number;
  sample: boolean;
  temperature: number;
  topP: number;
  /** Seed for sampling; the same seed and input give the same output. */
  seed?: number;
  /** Benchmarks only: keep generating past EOS so every system does the same work. */
  ignoreEos?: boolean;
}

export const DEFAULT_DECODING: DecodingOptions = {
  maxNewTokens: 64,
  beams: 1,
  lengthPenalty: 1,
  sample: false,
  temperature: 1,
  topP: 1,
};

/** One row of work: a single hop of a translation (a pivot plan submits two). */
export interface TranslationItem {
  /** 1-based group id whose module this row uses. */
  group: number;
  /** English language names as the prompt needs them ("German"). */
  sourceName: string;
  targetName: string;
  text: string;
  options: DecodingOptions;
  /** Aborted rows stop costing compute at the next decode step. */
  signal?: AbortSignal;
  /** Streaming: each piece of text as the tokens that complete it are made (greedy and sampling). */
  onText?: (delta: string) => void;
}

/**
 * Why generation stopped: `eos` the model ended; `length` maxNewTokens was reached; `context`
 * the model context was full before maxNewTokens (the prompt left less room than asked);
 * `aborted` the request went away.
 */
export type FinishReason = 'eos' | 'length' | 'context' | 'aborted';

export interface TranslationOutput {
  text: string;
  promptTokens: number;
  outputTokens: number;
  finishReason: FinishReason;
}

/**
 * The engine as the scheduler sees it. In `single` and `merged` modes every item of one call
 * must name the same group; in `all` mode a call may mix groups.
 * A failed module fails only its items (XalmaError in that slot), never the call.
 */
export interface Engine {
  readonly mode: LoadingMode;
  /** Execution provider actually in use ('cpu' or 'cuda'). */
  readonly provider: string;
  readonly manifest: Manifest;
  /** true when one call may mix groups. */
  readonly mixesGroups: boolean;
  /**
   * Rows of concurrent calls batch together at step boundaries (generate.ts). `onRow` hears of
   * each row the moment it is done, before the call (which waits for all its rows) resolves.
   */
  translateBatch(items: TranslationItem[], onRow?: RowListener): Promise<Array<TranslationOutput | XalmaError>>;
  /** Loads what the mode needs up front and runs one tiny generation. */
  warmup(): Promise<void>;
  /** Counters as of now: every batch whose results were returned is in them. */
  stats(): EngineStats;
  health(): EngineHealth;
  close(): Promise<void>;
}

/**
 * Where the engine stands (threaded-engine.ts replaces a worker that exited or hung):
 * serving; restarting (a new worker is loading and warming up); failed (more failures than
 * the restart budget allows: only a process restart helps).
 */
export type EngineState = 'serving' | 'restarting' | 'failed';

export interface EngineHealth {
  state: EngineState;
  /** Workers started to replace one that was lost, since the engine started. */
  restarts: number;
  /** Why the last worker was lost (while restarting or failed). */
  lastFailure?: string;
}

export interface EngineStats {
  /** Prefill steps: rows that joined the running batch together. */
  batches: number;
  /** Decode steps and the rows in them (decodeRows / decodeSteps = mean decode batch). */
  decodeSteps: number;
  decodeRows: number;
  /** Wall time the engine spent in model steps (busy time). */
  stepMs: number;
  /** Prompts prefilled after a cached prompt head, and the head tokens not recomputed. */
  prefixHits: number;
  prefixTokens: number;
  rows: number;
  outputTokens: number;
  /** per group id */
  moduleLoads: Record<number, number>;
  moduleEvictions: Record<number, number>;
  moduleHits: Record<number, number>;
}
