/** Messages between the engine worker (engine-worker.ts) and its proxy (worker-connection.ts). */
import type { ErrorCode } from '../errors.ts';
import type { Manifest } from '../model/manifest-types.ts';
import type { EngineOptions } from './engine.ts';
import type { EngineStats, LoadingMode, TranslationItem, TranslationOutput } from './types.ts';

export interface ErrorPayload {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

/** What the worker is started with. */
export type EngineWorkerData = Omit<EngineOptions, 'logger' | 'onStatsChange'> & {
  logLevel?: string;
  /** worker-liveness.ts */
  liveness: SharedArrayBuffer;
};

/**
 * Faults a test or a drill can inject into a worker:
 * - exit: the worker ends itself, as a crash would (between onnxruntime calls);
 * - block: its thread blocks outside any onnxruntime call (a hung message loop);
 * - block-in-ort: its thread blocks while counted as inside an onnxruntime call (a long run).
 * A block lasts until the supervisor releases it (or terminates the worker).
 */
export type WorkerFault = 'exit' | 'block' | 'block-in-ort';

export type WorkerRequest =
  /** `stream`: the worker sends the item's text as it is made ('text' replies). */
  | { type: 'translate'; id: number; items: Array<Omit<TranslationItem, 'signal' | 'onText'> & { aborted: boolean; stream: boolean }>; itemIds: number[] }
  | { type: 'abort'; itemIds: number[] }
  | { type: 'warmup'; id: number }
  | { type: 'close'; id: number }
  /** Answered in shared memory (worker-liveness.ts), not by a message. */
  | { type: 'ping'; seq: number }
  | { type: 'fault'; fault: WorkerFault };

export type WorkerReply =
  | { type: 'ready'; manifest: Manifest; mode: LoadingMode; provider: string; mixesGroups: boolean }
  | { type: 'init-failed'; error: ErrorPayload }
  | { type: 'translated'; id: number; results: Array<RowResult> }
  /** Progress of a translate call, before its 'translated': one row done, or streamed text of a row. */
  | { type: 'row'; id: number; index: number; result: RowResult }
  | { type: 'text'; id: number; index: number; delta: string }
  /** Pushed whenever the counters change, before the reply of the call that changed them. */
  | { type: 'stats'; stats: EngineStats }
  | { type: 'done'; id: number }
  | { type: 'failed'; id: number; error: ErrorPayload };

export type RowResult = { output: TranslationOutput } | { error: ErrorPayload };

export type ProgressReply = Extract<WorkerReply, { type: 'row' | 'text' }>;

export type ReadyReply = Extract<WorkerReply, { type: 'ready' }>;
