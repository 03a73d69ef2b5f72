/**
 * Runs an engine inside a worker thread. onnxruntime-node's `session.run` executes on the
 * calling thread (its promise resolves after a synchronous native call), so on the main thread
 * one prefill would block the HTTP event loop for up to a second (bench model, batch 8: 1.2 s of
 * event-loop lag). In a worker, generation never delays health checks or request parsing.
 *
 * Messages (parent -> worker): init, translate, abort, stats, warmup, close.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { createEngine, type EngineOptions } from './engine.ts';
import type { Engine, TranslationItem } from './types.ts';
import { isXalmaError } from '../errors.ts';
import type { WorkerReply, WorkerRequest } from './worker-protocol.ts';

const port = parentPort!;
let engine: Engine | null = null;
const controllers = new Map<number, AbortController>();

function reply(msg: WorkerReply): void {
  port.postMessage(msg);
}

function errorPayload(err: unknown) {
  if (isXalmaError(err)) return { code: err.code, message: err.message, details: err.details };
  return { code: 'INTERNAL_ERROR' as const, message: err instanceof Error ? err.message : String(err) };
}

async function handle(msg: WorkerRequest): Promise<void> {
  try {
    switch (msg.type) {
      case 'translate': {
        const items: TranslationItem[] = msg.items.map(({ aborted, ...it }, k) => {
          const c = new AbortController();
          if (aborted) c.abort();
          controllers.set(msg.itemIds[k], c);
          return { ...it, signal: c.signal };
        });
        try {
          const results = await engine!.translateBatch(items);
          reply({ type: 'translated', id: msg.id, results: results.map((r) => (isXalmaError(r) ? { error: errorPayload(r) } : { output: r })) });
        } finally {
          for (const id of msg.itemIds) controllers.delete(id);
        }
        return;
      }
      case 'abort':
        for (const id of msg.itemIds) controllers.get(id)?.abort();
        return;
      case 'stats':
        reply({ type: 'stats', id: msg.id, stats: engine!.stats() });
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
  const { logLevel, ...options } = workerData as EngineOptions & { logLevel?: string };
  const logger = logLevel && logLevel !== 'silent' ? pino({ level: logLevel, name: 'engine-worker' }) : undefined;
  engine = await createEngine({ ...options, logger });
  reply({ type: 'ready', manifest: engine.manifest, mode: engine.mode, provider: engine.provider, mixesGroups: engine.mixesGroups });
} catch (err) {
  reply({ type: 'init-failed', error: errorPayload(err) });
}
port.on('message', (msg: WorkerRequest) => void handle(msg));
