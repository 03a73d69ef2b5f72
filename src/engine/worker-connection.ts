/**
 * One engine worker thread, from spawn to exit: calls and their replies, the counters the worker
 * pushes, its hang watchdog, and the only place a worker is terminated. The supervisor
 * (threaded-engine.ts) decides what a lost worker means; this file only reports the loss.
 *
 * A worker is lost when it exits or errors by itself, or when the watchdog finds it hung (and
 * has condemned it). Its pending calls are then rejected with the error the supervisor chooses.
 * `terminate` sends `worker.terminate()` only to a condemned worker (worker-liveness.ts): never
 * while an onnxruntime call is in flight, which would abort the process.
 */
import { Worker } from 'node:worker_threads';
import { XalmaError } from '../errors.ts';
import { HangWatchdog } from './hang-watchdog.ts';
import type { EngineStats } from './types.ts';
import { SupervisorLiveness, createLivenessBuffer } from './worker-liveness.ts';
import type { EngineWorkerData, ErrorPayload, ProgressReply, ReadyReply, WorkerFault, WorkerReply, WorkerRequest } from './worker-protocol.ts';

export function toError(e: ErrorPayload): XalmaError {
  const err = new XalmaError(e.code, undefined, e.details);
  err.message = e.message; // the worker's message already carries the table text and detail
  return err;
}

export function emptyStats(): EngineStats {
  return { batches: 0, decodeSteps: 0, decodeRows: 0, stepMs: 0, prefixHits: 0, prefixTokens: 0, rows: 0, outputTokens: 0, moduleLoads: {}, moduleEvictions: {}, moduleHits: {} };
}

export type WorkerLoss = { kind: 'exited'; detail: string } | { kind: 'hung'; silentMs: number };

export interface WatchdogTiming {
  /** 0: never treat a silent worker as hung. */
  hangTimeoutMs: number;
  checkIntervalMs: number;
  now: () => number;
}

type Pending = { resolve: (msg: WorkerReply) => void; reject: (err: Error) => void; progress?: (msg: ProgressReply) => void };
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
/** A request that gets a reply, before the connection numbers it. */
export type CallRequest = WithoutId<Extract<WorkerRequest, { id: number }>>;

/** Retry period of `terminate` while an onnxruntime call is in flight (a decode step: ~16-70 ms on 2 cores). */
const CONDEMN_RETRY_MS = 10;

export class WorkerConnection {
  private pushed: EngineStats = emptyStats();
  private lossHandler: (loss: WorkerLoss) => XalmaError = () => new XalmaError('ENGINE_FAILED', 'the engine worker was lost');
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private lost = false;
  private closing = false;
  private exited = false;
  private watchdog: HangWatchdog | null = null;

  private constructor(
    private readonly worker: Worker,
    private readonly liveness: SupervisorLiveness,
  ) {
    worker.on('message', (msg: WorkerReply) => {
      if (msg.type === 'stats') {
        this.pushed = msg.stats;
        return;
      }
      if (!('id' in msg)) return;
      const p = this.pending.get(msg.id);
      if (!p) return;
      if (msg.type === 'row' || msg.type === 'text') return void p.progress?.(msg);
      this.pending.delete(msg.id);
      if (msg.type === 'failed') p.reject(toError(msg.error));
      else p.resolve(msg);
    });
    worker.on('error', (err) => this.lose({ kind: 'exited', detail: `uncaught error in the worker: ${err.message}` }));
    worker.on('exit', (code) => {
      this.exited = true;
      this.lose({ kind: 'exited', detail: `the worker exited with code ${code}` });
    });
  }

  /** Starts a worker; resolves once its model is loaded (or rejects with the coded load error). */
  static async spawn(workerData: Omit<EngineWorkerData, 'liveness'>): Promise<{ connection: WorkerConnection; ready: ReadyReply }> {
    const liveness = new SupervisorLiveness(createLivenessBuffer());
    const data: EngineWorkerData = { ...workerData, liveness: liveness.buffer };
    const worker = new Worker(new URL('./worker-bootstrap.mjs', import.meta.url), { workerData: data });
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
    const connection = new WorkerConnection(worker, liveness);
    if (first.type === 'ready') return { connection, ready: first };
    await connection.terminate();
    if (first.type === 'init-failed') throw toError(first.error);
    throw new XalmaError('INTERNAL_ERROR', `engine worker: unexpected first message ${first.type}`);
  }

  get threadId(): number {
    return this.worker.threadId;
  }

  /** onnxruntime calls the worker has in flight now (tests: a blocking fault has begun). */
  get ortCallsInFlight(): number {
    return this.liveness.activity().inFlight;
  }

  /** The counters the worker pushed last. */
  get stats(): EngineStats {
    return this.pushed;
  }

  /** Who decides what a loss means: called once, returns the error the pending calls get. */
  onLoss(handler: (loss: WorkerLoss) => XalmaError): void {
    this.lossHandler = handler;
  }

  /** Watches for a hang from now on (a worker loading its model is not watched: loads have no bound). */
  watch(timing: WatchdogTiming): void {
    if (timing.hangTimeoutMs <= 0 || this.lost) return;
    this.watchdog = new HangWatchdog({
      liveness: this.liveness,
      ping: (seq) => this.post({ type: 'ping', seq }),
      onHung: (silentMs) => {
        this.lose({ kind: 'hung', silentMs });
        void this.worker.terminate(); // condemned by the watchdog: no onnxruntime call in flight
      },
      ...timing,
    });
    this.watchdog.start();
  }

  /** `progress` hears the call's 'row' and 'text' replies before its final one. */
  call(req: CallRequest, progress?: (msg: ProgressReply) => void): Promise<WorkerReply> {
    if (this.lost) return Promise.reject(new XalmaError('ENGINE_FAILED', 'the engine worker was lost'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, progress });
      this.worker.postMessage({ ...req, id } as WorkerRequest);
    });
  }

  /** A message that expects no reply. */
  post(req: WorkerRequest): void {
    if (!this.lost) this.worker.postMessage(req);
  }

  /** Tests and drills: see WorkerFault. A blocking fault lasts until `releaseFault`. */
  injectFault(fault: WorkerFault): void {
    if (fault !== 'exit') this.liveness.holdFaults();
    this.post({ type: 'fault', fault });
  }

  releaseFault(): void {
    this.liveness.releaseFaults();
  }

  /** Asks the worker to release its sessions, then ends it. */
  async close(): Promise<void> {
    this.closing = true;
    if (!this.lost) await this.call({ type: 'close' }).catch(() => {});
    this.lose({ kind: 'exited', detail: 'closed' });
    await this.terminate();
  }

  /**
   * Ends the worker without ever interrupting an onnxruntime call: waits until the worker can be
   * condemned (no call in flight), then terminates it. A worker that exited needs neither.
   */
  async terminate(): Promise<void> {
    this.watchdog?.stop();
    while (!this.exited && !this.liveness.condemn()) await new Promise((r) => setTimeout(r, CONDEMN_RETRY_MS));
    if (!this.exited) await this.worker.terminate();
  }

  private lose(loss: WorkerLoss): void {
    if (this.lost) return;
    this.lost = true;
    this.watchdog?.stop();
    const err = this.closing ? new XalmaError('ENGINE_FAILED', 'engine closed') : this.lossHandler(loss);
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
