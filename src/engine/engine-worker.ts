/**
 * Runs an engine inside a worker thread. onnxruntime-node's `session.run` executes on the
 * calling thread (its promise resolves after a synchronous native call), so on the main thread
 * one prefill would block the HTTP event loop for up to a second (bench model, batch 8: 1.2 s of
 * event-loop lag). In a worker, generation never delays health checks or request parsing.
 *
 * Messages (parent -> worker): translate, abort, warmup, close, ping, fault. The worker pushes
 * its counters (`stats`) whenever they change, ahead of the reply of the call that changed them.
 * Every onnxruntime call is counted in shared memory (worker-liveness.ts) so that the
 * supervisor never terminates this thread in the middle of one.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { createEngine } from './engine.ts';
import { guardOrtCalls } from './ort.ts';
import type { Engine, TranslationItem, TranslationOutput } from './types.ts';
import type { XalmaError } from '../errors.ts';
import { isXalmaError } from '../errors.ts';
import { WorkerLiveness } from './worker-liveness.ts';
import type { EngineWorkerData, RowResult, WorkerFault, WorkerReply, WorkerRequest } from './worker-protocol.ts';

const port = parentPort!;
let engine: Engine | null = null;
const controllers = new Map<number, AbortController>();
const { logLevel, liveness: livenessBuffer, ...options } = workerData as EngineWorkerData;
const liveness = new WorkerLiveness(livenessBuffer);
guardOrtCalls(liveness);

function reply(msg: WorkerReply): void {
  port.postMessage(msg);
}

function pushStats(): void {
  if (engine) reply({ type: 'stats', stats: engine.stats() });
}

function errorPayload(err: unknown) {
  if (isXalmaError(err)) return { code: err.code, message: err.message, details: err.details };
  return { code: 'INTERNAL_ERROR' as const, message: err instanceof Error ? err.message : String(err) };
}

function rowResult(r: TranslationOutput | XalmaError): RowResult {
  return isXalmaError(r) ? { error: errorPayload(r) } : { output: r };
}

function injectFault(fault: WorkerFault): void {
  switch (fault) {
    case 'exit':
      process.exit(1); // in a worker: ends this thread only, as an uncaught crash would
      break;
    case 'block':
      liveness.blockUntilReleased();
      break;
    case 'block-in-ort':
      liveness.enter();
      try {
        liveness.blockUntilReleased();
      } finally {
        liveness.leave();
      }
      break;
  }
}

async function handle(msg: WorkerRequest): Promise<void> {
  try {
    switch (msg.type) {
      case 'translate': {
        const items: TranslationItem[] = msg.items.map(({ aborted, stream, ...it }, k) => {
          const c = new AbortController();
          if (aborted) c.abort();
          controllers.set(msg.itemIds[k], c);
          const onText = stream ? (delta: string) => reply({ type: 'text', id: msg.id, index: k, delta }) : undefined;
          return { ...it, signal: c.signal, onText };
        });
        try {
          const results = await engine!.translateBatch(items, (index, r) => reply({ type: 'row', id: msg.id, index, result: rowResult(r) }));
          reply({ type: 'translated', id: msg.id, results: results.map(rowResult) });
        } finally {
          for (const id of msg.itemIds) controllers.delete(id);
        }
        return;
      }
      case 'abort':
        for (const id of msg.itemIds) controllers.get(id)?.abort();
        return;
      case 'ping':
        liveness.ack(msg.seq);
        return;
      case 'fault':
        injectFault(msg.fault);
        return;
      case 'warmup':
        await engine!.warmup();
        reply({ type: 'done', id: msg.id });
        return;
      case 'close':
        await engine?.close();
        reply({ type: 'done', id: msg.id });
        return;
    }
  } catch (err) {
    if ('id' in msg) reply({ type: 'failed', id: msg.id, error: errorPayload(err) });
  }
}

try {
  const logger = logLevel && logLevel !== 'silent' ? pino({ level: logLevel, name: 'engine-worker' }) : undefined;
  engine = await createEngine({ ...options, logger, onStatsChange: pushStats });
  reply({ type: 'ready', manifest: engine.manifest, mode: engine.mode, provider: engine.provider, mixesGroups: engine.mixesGroups });
} catch (err) {
  reply({ type: 'init-failed', error: errorPayload(err) });
}
port.on('message', (msg: WorkerRequest) => void handle(msg));
