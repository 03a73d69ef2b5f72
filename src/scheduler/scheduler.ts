/**
 * The one owner of the request queue (STYLE: state and interfaces). Rows from every client
 * enter here; the loop is schedule -> engine.translateBatch -> update. The engine batches
 * continuously (rows join its running batch at step boundaries, generate.ts), so batches are
 * sent while others run, as long as the rows in the engine stay within maxBatchSize; each row
 * is answered the moment the engine reports it done. In single/merged modes the rows in the
 * engine are of one group: another group's rows wait until it drains (policy.ts decides when).
 *
 * Interface, as in vLLM: add(request), abort(ids), schedule(): Batch | null, update(batch, outputs).
 * Aborts of queued rows take effect at once; aborts of running rows signal the engine, which
 * stops the row at its next decode step, and the caller is answered without waiting for it.
 */
import type { Logger } from 'pino';
import type { Engine, TranslationItem, TranslationOutput } from '../engine/types.ts';
import { XalmaError, isXalmaError } from '../errors.ts';
import { GroupQueues } from './group-queues.ts';
import { pickGroup } from './policy.ts';
import type { Batch, BatchReport, Entry, SchedulerOptions, SchedulerRequest } from './types.ts';

type Phase = 'created' | 'running' | 'stopping' | 'stopped';
type BatchRunner = Pick<Engine, 'translateBatch'>;

/** A fill window never stays open longer than this many maxWaitMs (15 ms default: 120 ms). */
const FILL_CAP_WAITS = 8;

export class Scheduler {
  private readonly queues = new GroupQueues();
  private readonly byRequest = new Map<string, Set<Entry>>();
  private readonly now: () => number;
  private queued = 0;
  /** Rows sent to the engine and not reported back yet. */
  private inEngine = 0;
  /** Batches sent to the engine: which of their rows are back. */
  private readonly dispatched = new Map<Batch, boolean[]>();
  private activeGroup: number | null = null;
  private seq = 0;
  private batchSeq = 0;
  private phase: Phase = 'created';
  private loop: Promise<void> | null = null;
  /** Set while the loop sleeps; `add` and `stop` call it. */
  private wake: (() => void) | null = null;
  private waitingFor: 'work' | 'fill' | 'room' = 'work';
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly opts: SchedulerOptions,
    private readonly logger?: Logger,
  ) {
    this.now = opts.now ?? Date.now;
  }

  /** Rows waiting for a batch. */
  get depth(): number {
    return this.queued;
  }

  /** Rows the engine is running (sent and not reported back). */
  get inFlight(): number {
    return this.inEngine;
  }

  /** Rows that may still be admitted before QUEUE_FULL. */
  room(): number {
    return Math.max(0, this.opts.maxQueue - this.queued);
  }

  /**
   * Queues one row. Throws (synchronously) QUEUE_FULL when the queue is at its bound and
   * SHUTTING_DOWN once stopping, so a caller can admit a multi-row request all-or-nothing.
   */
  add(req: SchedulerRequest): Promise<TranslationOutput> {
    if (this.phase === 'stopping' || this.phase === 'stopped') throw new XalmaError('SHUTTING_DOWN');
    if (!req.continuationOf && this.queued >= this.opts.maxQueue) {
      throw new XalmaError('QUEUE_FULL', undefined, { queued: this.queued, limit: this.opts.maxQueue });
    }
    const controller = new AbortController();
    const signal = req.item.signal ? AbortSignal.any([req.item.signal, controller.signal]) : controller.signal;
    const item: TranslationItem = { ...req.item, signal };
    let settle!: Entry['settle'];
    const promise = new Promise<TranslationOutput>((resolve, reject) => {
      settle = (result) => (result instanceof XalmaError ? reject(result) : resolve(result));
    });
    const entry: Entry = {
      seq: ++this.seq,
      requestId: req.requestId,
      item,
      enqueuedAt: req.continuationOf?.enqueuedAt ?? this.now(),
      deadlineAt: req.deadlineAt ?? Number.POSITIVE_INFINITY,
      state: 'queued',
      controller,
      settle: (result) => {
        const set = this.byRequest.get(entry.requestId);
        if (set) {
          set.delete(entry);
          if (set.size === 0) this.byRequest.delete(entry.requestId);
        }
        settle(result);
      },
    };
    let set = this.byRequest.get(req.requestId);
    if (!set) this.byRequest.set(req.requestId, (set = new Set()));
    set.add(entry);
    this.queues.push(entry);
    this.queued++;
    this.lastArrival = this.now();
    if (this.wake && (this.waitingFor !== 'fill' || this.queued >= this.opts.maxBatchSize)) this.fireWake();
    return promise;
  }

  /** Aborts every queued or running row of the given requests; returns how many rows. */
  abort(requestIds: Iterable<string>, reason: XalmaError = new XalmaError('REQUEST_ABORTED')): number {
    let count = 0;
    for (const id of requestIds) {
      const set = this.byRequest.get(id);
      if (!set) continue;
      for (const entry of [...set]) {
        if (this.end(entry, 'aborted', reason)) count++;
      }
    }
    if (count > 0) this.checkIdle();
    return count;
  }

  /**
   * Forms the next batch within the room the engine has (maxBatchSize minus the rows it runs),
   * or null when nothing can go now. Rows past their deadline are failed here instead of
   * costing compute. Marks the rows running.
   */
  schedule(): Batch | null {
    const room = this.opts.maxBatchSize - this.inEngine;
    if (room <= 0) return null;
    const now = this.now();
    const entries: Entry[] = [];
    let group: number | null = null;
    if (this.opts.mixesGroups) {
      while (entries.length < room) {
        const heads = this.queues.heads();
        if (heads.length === 0) break;
        let oldest = heads[0];
        for (const h of heads) if (h.enqueuedAt < oldest.enqueuedAt || (h.enqueuedAt === oldest.enqueuedAt && h.seq < oldest.seq)) oldest = h;
        this.take(this.queues.shift(oldest.item.group)!, now, entries);
      }
      if (entries.length > 0 && entries.every((e) => e.item.group === entries[0].item.group)) group = entries[0].item.group;
    } else {
      while (entries.length === 0) {
        const heads = this.queues.heads().map((e) => ({ group: e.item.group, oldestAt: e.enqueuedAt }));
        group = pickGroup(heads, this.activeGroup, now, this.opts.groupAgeBoundMs);
        if (group === null) break;
        // The engine runs the active group: another one starts once its rows are back.
        if (this.inEngine > 0 && group !== this.activeGroup) return null;
        while (entries.length < room) {
          const e = this.queues.shift(group);
          if (!e) break;
          this.take(e, now, entries);
        }
      }
      if (entries.length > 0) this.activeGroup = group;
    }
    if (entries.length === 0) {
      this.checkIdle();
      return null;
    }
    const batch: Batch = { id: ++this.batchSeq, group, entries, formedAt: now };
    this.inEngine += entries.length;
    this.dispatched.set(batch, entries.map(() => false));
    return batch;
  }

  /** One row of a dispatched batch is back from the engine: answered at once, room freed. */
  private rowBack(batch: Batch, index: number, out: TranslationOutput | XalmaError | undefined): void {
    const back = this.dispatched.get(batch);
    if (!back || back[index]) return;
    back[index] = true;
    this.inEngine--;
    const entry = batch.entries[index];
    if (entry.state === 'running') {
      if (out === undefined) this.end(entry, 'failed', new XalmaError('INTERNAL_ERROR', 'the engine returned fewer results than rows'));
      else if (isXalmaError(out)) this.end(entry, 'failed', out);
      else if (out.finishReason === 'aborted') this.end(entry, 'aborted', new XalmaError('REQUEST_ABORTED'));
      else this.end(entry, 'done', out);
    }
    if (this.waitingFor === 'room') this.fireWake();
  }

  /** Settles the rows of a finished batch; rows aborted meanwhile were answered already. */
  update(batch: Batch, outputs: ReadonlyArray<TranslationOutput | XalmaError>, durationMs = this.now() - batch.formedAt): BatchReport {
    batch.entries.forEach((_, i) => this.rowBack(batch, i, outputs[i]));
    this.dispatched.delete(batch);
    let outputTokens = 0;
    let failed = 0;
    let aborted = 0;
    batch.entries.forEach((entry, i) => {
      const out = outputs[i];
      if (entry.state === 'done') outputTokens += out && !isXalmaError(out) ? out.outputTokens : 0;
      else if (entry.state === 'failed') failed++;
      else aborted++;
    });
    const report: BatchReport = {
      id: batch.id,
      group: batch.group,
      size: batch.entries.length,
      groups: [...new Set(batch.entries.map((e) => e.item.group))].sort((a, b) => a - b),
      durationMs,
      outputTokens,
      failed,
      aborted,
    };
    this.opts.observer?.onBatch?.(report);
    this.logger?.debug(
      { batchId: batch.id, group: batch.group, groups: report.groups, size: report.size, ms: Math.round(durationMs), outputTokens, failed, aborted, requestIds: [...new Set(batch.entries.map((e) => e.requestId))] },
      'batch done',
    );
    this.checkIdle();
    return report;
  }

  /** Starts the run loop against an engine (idempotent). */
  start(engine: BatchRunner): void {
    if (this.phase !== 'created') return;
    this.phase = 'running';
    this.loop = this.run(engine);
  }

  /** Resolves once nothing is queued or running. */
  idle(): Promise<void> {
    if (this.queued === 0 && this.inEngine === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Refuses new rows, fails every queued and running row with `reason`, ends the loop. */
  async stop(reason: XalmaError = new XalmaError('SHUTTING_DOWN')): Promise<void> {
    if (this.phase === 'stopped') return;
    this.phase = 'stopping';
    this.abort([...this.byRequest.keys()], reason);
    this.fireWake();
    await this.loop;
    this.phase = 'stopped';
    this.checkIdle();
  }

  /** When the engine last finished a batch (the fill window starts no earlier). */
  private freeSince = Number.NEGATIVE_INFINITY;
  /** Rows of the last batch sent: 1 means no sign of concurrent clients. */
  private lastBatchRows = 1;
  /** When the last row was added (a fill window stays open while rows keep coming). */
  private lastArrival = Number.NEGATIVE_INFINITY;

  private async run(engine: BatchRunner): Promise<void> {
    while (this.phase === 'running') {
      if (this.queued === 0) {
        await this.sleep('work', Number.POSITIVE_INFINITY);
        continue;
      }
      // A fill window only while the engine is idle: with rows running, new ones join them at
      // the engine's next step anyway.
      if (this.inEngine === 0) await this.waitForFill();
      const batch = this.schedule();
      if (!batch) {
        if (this.queued > 0) await this.sleep('room', Number.POSITIVE_INFINITY);
        continue;
      }
      this.lastBatchRows = batch.entries.length;
      this.dispatch(engine, batch);
    }
  }

  private dispatch(engine: BatchRunner, batch: Batch): void {
    const started = performance.now();
    const finish = (outputs: ReadonlyArray<TranslationOutput | XalmaError>) => {
      // update() hands back the rows onRow has not (each wakes a loop waiting for room).
      this.update(batch, outputs, performance.now() - started);
      if (this.inEngine === 0) this.freeSince = this.now();
    };
    engine.translateBatch(batch.entries.map((e) => e.item), (index, out) => this.rowBack(batch, index, out)).then(finish, (err: unknown) => {
      const error = isXalmaError(err) ? err : new XalmaError('INTERNAL_ERROR', 'the engine failed a batch', undefined, { cause: err });
      this.logger?.error({ err, batchId: batch.id, group: batch.group, size: batch.entries.length }, 'engine batch failed');
      finish(batch.entries.map(() => error));
    });
  }

  /**
   * With an idle engine, gives a partial batch time to fill: maxWaitMs counted from the later of
   * its oldest row's arrival and the moment the engine became free, then longer while rows keep
   * arriving (a gap under maxWaitMs/2), up to FILL_CAP_WAITS * maxWaitMs in all.
   * - From the engine, not only the oldest row: when a batch ends, its clients' next requests
   *   arrive over the following milliseconds, and a window that had already expired (the oldest
   *   row waited through the whole batch) sent half-full batches.
   * - While arrivals continue: a burst of 32 clients on an idle engine arrives over tens of ms
   *   on 2 busy cores; a fixed window sent a 2-row batch and made the other 30 wait through it
   *   (bench model, 32 connections: 4 batches for 64 rows).
   * - Not for a lone row after a one-row batch: with no sign of concurrency it runs at once (the
   *   first row of a cold burst does too; the rest of the burst then batches together).
   */
  private async waitForFill(): Promise<void> {
    if (this.opts.maxWaitMs <= 0) return;
    // A lone request on a quiet server runs at once: waiting for company that is not coming
    // would only add latency (bench/results/peers.md, single-request latency vs transformers.js).
    if (this.queued === 1 && this.lastBatchRows <= 1) return;
    const heads = this.queues.heads();
    if (heads.length === 0) return;
    const oldest = Math.min(...heads.map((e) => e.enqueuedAt));
    const opened = Math.max(oldest, this.freeSince);
    const quietMs = Math.max(1, this.opts.maxWaitMs / 2);
    while (this.phase === 'running' && this.queued < this.opts.maxBatchSize) {
      const now = this.now();
      const window = this.opts.maxWaitMs - (now - opened);
      const stillArriving = now - this.lastArrival < quietMs && now - opened < FILL_CAP_WAITS * this.opts.maxWaitMs;
      if (window > 0) await this.sleep('fill', window);
      else if (stillArriving) await this.sleep('fill', quietMs);
      else return;
    }
  }

  private sleep(reason: 'work' | 'fill' | 'room', ms: number): Promise<void> {
    this.waitingFor = reason;
    return new Promise((resolve) => {
      const timer = Number.isFinite(ms) ? setTimeout(() => this.fireWake(), ms) : undefined;
      this.wake = () => {
        if (timer) clearTimeout(timer);
        resolve();
      };
    });
  }

  private fireWake(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  /** Moves a shifted row into the forming batch, or fails it when its deadline passed. */
  private take(entry: Entry, now: number, into: Entry[]): void {
    this.queued--;
    if (entry.deadlineAt <= now) {
      entry.state = 'aborted';
      this.opts.observer?.onEntryEnd?.('aborted');
      entry.settle(new XalmaError('DEADLINE_EXCEEDED'));
      return;
    }
    entry.state = 'running';
    into.push(entry);
  }

  /** The single place an entry leaves queued/running; false when it had already ended. */
  private end(entry: Entry, state: 'done' | 'aborted' | 'failed', result: TranslationOutput | XalmaError): boolean {
    if (entry.state !== 'queued' && entry.state !== 'running') return false;
    if (entry.state === 'queued') this.queued--;
    if (entry.state === 'running' && state === 'aborted') entry.controller.abort(result);
    entry.state = state;
    this.opts.observer?.onEntryEnd?.(state);
    entry.settle(result);
    return true;
  }

  private checkIdle(): void {
    if (this.queued !== 0 || this.inEngine !== 0 || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
