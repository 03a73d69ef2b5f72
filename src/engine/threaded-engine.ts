/**
 * An Engine whose work runs in a worker thread (see engine-worker.ts for why), supervised. Same
 * interface as the in-process engine: the scheduler cannot tell them apart.
 *
 * Supervision: a worker that exits, errors or stops answering (hang-watchdog.ts) is replaced
 * without restarting the process. The calls it had in flight fail with ENGINE_RESTARTED
 * (retryable); calls made while the replacement loads and warms up fail the same way at once
 * (holding them would park the scheduler for a whole model load, minutes for a 13B model, past
 * most deadlines), and `health()` says `restarting` so /ready answers 503. More losses than
 * the restart budget allows (restart-budget.ts) leave the engine `failed`: every call gets
 * ENGINE_FAILED and /health answers 503 so that an orchestrator restarts the process.
 *
 * Stats: the worker pushes its counters whenever they change, ahead of the reply of the batch
 * that changed them, so `stats()` is current the moment a batch's results are back. Counters of
 * lost workers are kept, so the totals never go back when a worker is replaced.
 */
import type { Logger } from 'pino';
import { XalmaError } from '../errors.ts';
import type { Manifest } from '../model/manifest-types.ts';
import type { EngineOptions } from './engine.ts';
import { RestartBudget } from './restart-budget.ts';
import type { Engine, EngineHealth, EngineState, EngineStats, LoadingMode, RowListener, TranslationItem, TranslationOutput } from './types.ts';
import { WorkerConnection, emptyStats, toError, type WatchdogTiming, type WorkerLoss } from './worker-connection.ts';
import type { EngineWorkerData, ReadyReply, WorkerFault } from './worker-protocol.ts';

export interface SupervisionOptions {
  /** Replacement workers allowed within `restartWindowMs`; a loss beyond that fails the engine. */
  maxRestarts: number;
  restartWindowMs: number;
  /** A worker that answers no ping for this long, with no onnxruntime call running, is replaced; 0 = never. */
  hangTimeoutMs: number;
  /** How often the watchdog looks; default a quarter of the hang timeout, at most 1 s. */
  checkIntervalMs?: number;
  /** The clock of the restart window and the hang timeout (tests inject one). */
  now?: () => number;
}

/**
 * 3 restarts in 5 minutes: a crash loop (a request that kills the worker and is retried, a model
 * file gone) spends it within a minute and reaches the orchestrator; rare independent crashes
 * do not. 30 s without an answer outside onnxruntime: a starting point, not measured. The
 * worker's other work (tokenizing, sampling, reading modules) yields to its message loop
 * between steps or awaits I/O; 30 s leaves room for a loaded machine.
 */
export const DEFAULT_SUPERVISION = { maxRestarts: 3, restartWindowMs: 300_000, hangTimeoutMs: 30_000 } as const satisfies SupervisionOptions;

/** The worker pushes its stats itself: no onStatsChange here. */
export type EngineWorkerOptions = Omit<EngineOptions, 'onStatsChange'> & { logLevel?: string; supervision?: Partial<SupervisionOptions> };

interface ThreadedEngineOptions {
  /** What every replacement worker is started with. */
  workerData: Omit<EngineWorkerData, 'liveness'>;
  supervision: SupervisionOptions & { now: () => number };
  logger?: Logger;
}

export class ThreadedEngine implements Engine {
  readonly manifest: Manifest;
  readonly mode: LoadingMode;
  readonly provider: string;
  readonly mixesGroups: boolean;
  private nextItemId = 1;
  private state: EngineState | 'closed' = 'serving';
  private restarts = 0;
  private lastFailure: string | undefined;
  /** Counters of the workers lost so far. */
  private readonly retired: EngineStats = emptyStats();
  private readonly budget: RestartBudget;
  private readonly timing: WatchdogTiming;
  private replacing: Promise<void> | null = null;

  /** The serving worker; null while a replacement starts and once the engine failed. */
  private current: WorkerConnection | null = null;

  private readonly workerData: Omit<EngineWorkerData, 'liveness'>;
  private readonly supervision: SupervisionOptions & { now: () => number };
  private readonly logger?: Logger;

  constructor(first: WorkerConnection, ready: ReadyReply, opts: ThreadedEngineOptions) {
    this.manifest = ready.manifest;
    this.mode = ready.mode;
    this.provider = ready.provider;
    this.mixesGroups = ready.mixesGroups;
    this.workerData = opts.workerData;
    this.supervision = opts.supervision;
    this.logger = opts.logger;
    const { maxRestarts, restartWindowMs, hangTimeoutMs, checkIntervalMs, now } = opts.supervision;
    this.budget = new RestartBudget(maxRestarts, restartWindowMs);
    this.timing = { hangTimeoutMs, now, checkIntervalMs: checkIntervalMs ?? Math.min(1000, Math.max(1, hangTimeoutMs / 4)) };
    this.adopt(first);
  }

  async translateBatch(items: TranslationItem[], onRow?: RowListener): Promise<Array<TranslationOutput | XalmaError>> {
    const worker = this.serving();
    const itemIds = items.map(() => this.nextItemId++);
    const cleanups: Array<() => void> = [];
    items.forEach((it, k) => {
      if (!it.signal) return;
      const onAbort = () => worker.post({ type: 'abort', itemIds: [itemIds[k]] });
      if (it.signal.aborted) return;
      it.signal.addEventListener('abort', onAbort, { once: true });
      cleanups.push(() => it.signal!.removeEventListener('abort', onAbort));
    });
    try {
      const plain = items.map(({ signal, onText, ...rest }) => ({ ...rest, aborted: signal?.aborted ?? false, stream: onText !== undefined }));
      // An item aborted before it was sent is marked so the worker skips it.
      const reply = await worker.call({ type: 'translate', items: plain, itemIds }, (msg) => {
        if (msg.type === 'text') items[msg.index].onText?.(msg.delta);
        else onRow?.(msg.index, 'error' in msg.result ? toError(msg.result.error) : msg.result.output);
      });
      if (reply.type !== 'translated') throw new XalmaError('INTERNAL_ERROR', `engine worker: unexpected reply ${reply.type}`);
      return reply.results.map((r) => ('error' in r ? toError(r.error) : r.output));
    } finally {
      for (const c of cleanups) c();
    }
  }

  async warmup(): Promise<void> {
    await this.serving().call({ type: 'warmup' });
  }

  /** Current: the worker pushed its counters before the reply of every batch already returned. */
  stats(): EngineStats {
    return addStats(structuredClone(this.retired), this.current?.stats ?? emptyStats());
  }

  health(): EngineHealth {
    const state = this.state === 'closed' ? 'failed' : this.state;
    return { state, restarts: this.restarts, ...(this.lastFailure ? { lastFailure: this.lastFailure } : {}) };
  }

  /** Tests and drills: makes the current worker misbehave (see WorkerFault). */
  injectFault(fault: WorkerFault): void {
    this.serving().injectFault(fault);
  }

  /** Ends a blocking fault of the worker it was injected into. */
  releaseFault(): void {
    this.current?.releaseFault();
  }

  /** onnxruntime calls in flight in the serving worker (tests and drills). */
  get ortCallsInFlight(): number {
    return this.current?.ortCallsInFlight ?? 0;
  }

  /** The serving worker's thread id, or null (tests: a replacement has a new one). */
  get workerThreadId(): number | null {
    return this.current?.threadId ?? null;
  }

  async close(): Promise<void> {
    this.state = 'closed';
    await this.replacing;
    await this.current?.close();
  }

  private serving(): WorkerConnection {
    switch (this.state) {
      case 'serving':
        return this.current!;
      case 'restarting':
        throw new XalmaError('ENGINE_RESTARTED', `a new engine worker is starting (${this.lastFailure})`, { restarts: this.restarts });
      case 'failed':
        throw new XalmaError('ENGINE_FAILED', this.lastFailure, { restarts: this.restarts });
      case 'closed':
        throw new XalmaError('ENGINE_FAILED', 'engine closed');
    }
  }

  private adopt(connection: WorkerConnection): void {
    this.current = connection;
    connection.onLoss((loss) => this.lost(connection, loss));
    connection.watch(this.timing);
  }

  /** A serving worker was lost: the error its pending calls get. */
  private lost(connection: WorkerConnection, loss: WorkerLoss): XalmaError {
    addStats(this.retired, connection.stats);
    this.current = null;
    const why = loss.kind === 'hung' ? `the engine worker answered nothing for ${loss.silentMs} ms outside onnxruntime calls` : loss.detail;
    return this.recover(why);
  }

  /** Starts a replacement when the budget allows, else fails the engine for good. */
  private recover(why: string): XalmaError {
    this.lastFailure = why;
    if (this.state === 'closed') return new XalmaError('ENGINE_FAILED', 'engine closed');
    const { maxRestarts, restartWindowMs } = this.supervision;
    if (!this.budget.take(this.supervision.now())) {
      this.state = 'failed';
      this.logger?.error({ why, restarts: this.restarts, maxRestarts, restartWindowMs }, 'engine worker lost with the restart budget spent: the engine stays down and /health fails');
      return new XalmaError('ENGINE_FAILED', `${why}; ${maxRestarts} restarts within ${restartWindowMs} ms already`, { restarts: this.restarts });
    }
    this.state = 'restarting';
    this.restarts++;
    this.logger?.error({ why, restart: this.restarts, maxRestarts, restartWindowMs }, 'engine worker lost; starting a new one');
    this.replacing = this.replace().catch((err: unknown) => this.logger?.error({ err }, 'engine worker replacement failed unexpectedly'));
    return new XalmaError('ENGINE_RESTARTED', why, { restarts: this.restarts });
  }

  /** Loads and warms a new worker; it serves only once warm. A failure here is one more loss. */
  private async replace(): Promise<void> {
    const started = this.supervision.now();
    let next: WorkerConnection | undefined;
    try {
      next = (await WorkerConnection.spawn(this.workerData)).connection;
      if (this.state !== 'closed') {
        next.watch(this.timing);
        await next.call({ type: 'warmup' });
      }
    } catch (err) {
      if (next) {
        addStats(this.retired, next.stats);
        await next.terminate();
      }
      this.recover(`the replacement worker did not start: ${(err as Error).message}`);
      return;
    }
    if (this.state === 'closed') {
      await next.close();
      return;
    }
    this.adopt(next);
    this.state = 'serving';
    this.logger?.info({ restart: this.restarts, ms: this.supervision.now() - started, threadId: next.threadId }, 'engine worker replaced and warm');
  }
}

function addStats(into: EngineStats, s: EngineStats): EngineStats {
  into.batches += s.batches;
  into.decodeSteps += s.decodeSteps;
  into.decodeRows += s.decodeRows;
  into.stepMs += s.stepMs;
  into.prefixHits += s.prefixHits;
  into.prefixTokens += s.prefixTokens;
  into.rows += s.rows;
  into.outputTokens += s.outputTokens;
  for (const key of ['moduleLoads', 'moduleEvictions', 'moduleHits'] as const) {
    for (const [group, n] of Object.entries(s[key])) into[key][Number(group)] = (into[key][Number(group)] ?? 0) + n;
  }
  return into;
}

/** Starts the engine in a worker thread; resolves once the model is loaded. */
export async function startEngineWorker(options: EngineWorkerOptions): Promise<ThreadedEngine> {
  const { logger, supervision, ...rest } = options;
  const workerData = { ...rest, logLevel: options.logLevel ?? logger?.level };
  const { connection, ready } = await WorkerConnection.spawn(workerData);
  logger?.info({ model: ready.manifest.name, mode: ready.mode, provider: ready.provider, demo: ready.manifest.demo }, 'engine ready (worker thread)');
  const settings = { ...DEFAULT_SUPERVISION, ...supervision, now: supervision?.now ?? Date.now };
  return new ThreadedEngine(connection, ready, { workerData, supervision: settings, logger });
}
