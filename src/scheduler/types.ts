/**
 * Shapes the scheduler owns: one queued row of work (an entry), a batch, and the options.
 * Entry states are explicit (STYLE: queued | running | done | aborted | failed).
 */
import type { TranslationItem, TranslationOutput } from '../engine/types.ts';
import type { XalmaError } from '../errors.ts';

export type EntryState = 'queued' | 'running' | 'done' | 'aborted' | 'failed';

/** What a caller submits: one hop of one text of one HTTP request. */
export interface SchedulerRequest {
  /** Groups the rows of one client request; `abort([requestId])` cancels all of them. */
  requestId: string;
  item: TranslationItem;
  /** Epoch ms after which the row is not worth running (the caller answers 504). */
  deadlineAt?: number;
  /**
   * Set for the second hop of a pivot plan: the row was admitted with its first hop, so it
   * bypasses the queue bound and keeps its original age (it must not starve behind newcomers).
   */
  continuationOf?: { enqueuedAt: number };
}

export interface Entry {
  readonly seq: number;
  readonly requestId: string;
  readonly item: TranslationItem;
  readonly enqueuedAt: number;
  readonly deadlineAt: number;
  state: EntryState;
  /** Aborts the row inside the engine between decode steps. */
  readonly controller: AbortController;
  settle(result: TranslationOutput | XalmaError): void;
}

export interface Batch {
  readonly id: number;
  /** The one group of the batch, or null when the engine mixes groups and this batch does. */
  readonly group: number | null;
  readonly entries: Entry[];
  readonly formedAt: number;
}

export interface BatchReport {
  id: number;
  group: number | null;
  size: number;
  groups: number[];
  durationMs: number;
  outputTokens: number;
  failed: number;
  aborted: number;
}

/** Hooks for metrics; the scheduler stays free of prom-client. */
export interface SchedulerObserver {
  onBatch?(report: BatchReport): void;
  onEntryEnd?(state: Exclude<EntryState, 'queued' | 'running'>): void;
}

export interface SchedulerOptions {
  /** true in `all` mode: one batch may mix groups (Engine.mixesGroups). */
  mixesGroups: boolean;
  maxBatchSize: number;
  maxWaitMs: number;
  /** single/merged: stay on the active group only while the oldest queued row is younger. */
  groupAgeBoundMs: number;
  /** Queued rows beyond which `add` refuses with QUEUE_FULL. */
  maxQueue: number;
  /** Injected clock for tests. */
  now?: () => number;
  observer?: SchedulerObserver;
}
