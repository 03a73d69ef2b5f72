/** Messages between the engine worker (engine-worker.ts) and its proxy (threaded-engine.ts). */
import type { ErrorCode } from '../errors.ts';
import type { Manifest } from '../model/manifest-types.ts';
import type { EngineStats, LoadingMode, TranslationItem, TranslationOutput } from './types.ts';

export interface ErrorPayload {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

export type WorkerRequest =
  | { type: 'translate'; id: number; items: Array<Omit<TranslationItem, 'signal'> & { aborted: boolean }>; itemIds: number[] }
  | { type: 'abort'; itemIds: number[] }
  | { type: 'stats'; id: number }
  | { type: 'warmup'; id: number }
  | { type: 'close'; id: number };

export type WorkerReply =
  | { type: 'ready'; manifest: Manifest; mode: LoadingMode; provider: string; mixesGroups: boolean }
  | { type: 'init-failed'; error: ErrorPayload }
  | { type: 'translated'; id: number; results: Array<{ output: TranslationOutput } | { error: ErrorPayload }> }
  | { type: 'stats'; id: number; stats: EngineStats }
  | { type: 'done'; id: number }
  | { type: 'failed'; id: number; error: ErrorPayload };
