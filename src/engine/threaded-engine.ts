/**
 * An Engine whose work runs in a worker thread (see engine-worker.ts for why). Same interface
 * as the in-process engine: the scheduler cannot tell them apart. Abort signals are forwarded
 * as messages; a worker that dies fails its pending calls with ENGINE_FAILED instead of taking
 * the process down, and later calls fail fast with the same code.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { XalmaError } from '../errors.ts';
import type { Manifest } from '../model/manifest-types.ts';
import type { EngineOptions } from './engine.ts';
import type { Engine, EngineStats, LoadingMode, TranslationItem, TranslationOutput } from './types.ts';
import type { ErrorPayload, WorkerReply, WorkerRequest } from './worker-protocol.ts';

function toError(e: ErrorPayload): XalmaError {
  const err = new XalmaError(e.code, undefined, e.details);
  err.message = e.message; // the worker's message already carries the table text and detail
  return err;
}

type Pending = { resolve: (msg: WorkerReply) => void; reject: (err: Error) => void };

class ThreadedEngine implements Engine {
  private nextId = 1;
  private nextItemId = 1;
  private readonly pending = new Map<number, Pending>();
  private dead: XalmaError | null = null;

  constructor(
    private readonly worker: Worker,
    readonly manifest: Manifest,
    readonly mode: LoadingMode,
    readonly provider: string,
    readonly mixesGroups: boolean,
    private readonly logger?: Logger,
  ) {
    worker.on('message', (msg: WorkerReply) => {
      if (!('id' in msg)) return;
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.type === 'failed') p.reject(toError(msg.error));
      else p.resolve(msg);
    });
    const die = (why: string) => {
      if (this.dead) return;
      this.dead = new XalmaError('ENGINE_FAILED', why);
      this.logger?.error({ why }, 'engine worker stopped');
      for (const p of this.pending.values()) p.reject(this.dead);
      this.pending.clear();
    };
    worker.on('error', (err) => die(err.message));
    worker.on('exit', (code) => die(`worker exited with code ${code}`));
  }

  private call(req: WorkerRequest & { id: number }): Promise<WorkerReply> {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise((resolve, reject) => {
      this.pending.set(req.id, { resolve, reject });
      this.worker.postMessage(req);
    });
  }

  async translateBatch(items: TranslationItem[]): Promise<Array<TranslationOutput | XalmaError>> {
    const itemIds = items.map(() => this.nextItemId++);
    const cleanups: Array<() => void> = [];
    items.forEach((it, k) => {
      if (!it.signal) return;
      const onAbort = () => this.worker.postMessage({ type: 'abort', itemIds: [itemIds[k]] } satisfies WorkerRequest);
      if (it.signal.aborted) return;
      it.signal.addEventListener('abort', onAbort, { once: true });
      cleanups.push(() => it.signal!.removeEventListener('abort', onAbort));
    });
    try {
      const plain = items.map(({ signal, ...rest }) => ({ ...rest, aborted: signal?.aborted ?? false }));
      // An item aborted before it was sent is marked so the worker skips it.
      const reply = await this.call({ type: 'translate', id: this.nextId++, items: plain, itemIds });
      if (reply.type !== 'translated') throw new XalmaError('INTERNAL_ERROR', `engine worker: unexpected reply ${reply.type}`);
      return reply.results.map((r) => ('error' in r ? toError(r.error) : r.output));
    } finally {
      for (const c of cleanups) c();
    }
  }

  async warmup(): Promise<void> {
    await this.call({ type: 'warmup', id: this.nextId++ });
  }

  private lastStats: EngineStats = { batches: 0, rows: 0, outputTokens: 0, moduleLoads: {}, moduleEvictions: {}, moduleHits: {} };

  /** Latest stats the worker reported; refreshed asynchronously (metrics scrape tolerates lag). */
  stats(): EngineStats {
    if (!this.dead) {
      this.call({ type: 'stats', id: this.nextId++ })
        .then((r) => {
          if (r.type === 'stats') this.lastStats = r.stats;
        })
        .catch(() => {});
    }
    return this.lastStats;
  }

  async refreshStats(): Promise<EngineStats> {
    const r = await this.call({ type: 'stats', id: this.nextId++ });
    if (r.type === 'stats') this.lastStats = r.stats;
    return this.lastStats;
  }

  async close(): Promise<void> {
    if (!this.dead) await this.call({ type: 'close', id: this.nextId++ }).catch(() => {});
    this.dead ??= new XalmaError('ENGINE_FAILED', 'engine closed');
    await this.worker.terminate();
  }
}

/** Starts the engine in a worker thread; resolves once the model is loaded. */
export async function startEngineWorker(options: EngineOptions & { logLevel?: string }): Promise<Engine> {
  const { logger, ...data } = options;
  const worker = new Worker(new URL('./worker-bootstrap.mjs', import.meta.url), { workerData: { ...data, logLevel: options.logLevel ?? logger?.level } });
  let onMessage!: (m: WorkerReply) => void;
  let onError!: (e: Error) => void;
  let onExit!: (code: number) => void;
  const first = await new Promise<WorkerReply>((resolve, reject) => {
    onMessage = resolve;
    onError = reject;
    onExit = (code) => reject(new XalmaError('ENGINE_FAILED', `engine worker exited with code ${code} while loading`));
    worker.once('message', onMessage).once('error', onError).once('exit', onExit);
  });
  // Only our own listeners: Worker keeps internal ones (removeAllListeners would detach its port).
  worker.off('message', onMessage).off('error', onError).off('exit', onExit);
  if (first.type === 'init-failed') {
    await worker.terminate();
    throw toError(first.error);
  }
  if (first.type !== 'ready') throw new XalmaError('INTERNAL_ERROR', `engine worker: unexpected first message ${first.type}`);
  logger?.info({ model: first.manifest.name, mode: first.mode, provider: first.provider, demo: first.manifest.demo }, 'engine ready (worker thread)');
  return new ThreadedEngine(worker, first.manifest, first.mode, first.provider, first.mixesGroups, logger);
}
