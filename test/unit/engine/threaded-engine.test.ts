/**
 * The engine proxy that runs generation in a worker thread (src/engine/threaded-engine.ts), with
 * a real worker on the demo model: aborts reach the worker and stop their row there, and a
 * worker that dies or cannot load answers its callers with coded errors instead of hanging them.
 */
import type { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEngineWorker } from '../../../src/engine/threaded-engine.ts';
import { DEFAULT_DECODING, type Engine, type TranslationItem, type TranslationOutput } from '../../../src/engine/types.ts';
import { XalmaError, isXalmaError } from '../../../src/errors.ts';
import { DEFAULT_MODEL_DIR } from '../../../src/paths.ts';

const BUDGET = 300;
/** ignoreEos: a row that is not stopped makes exactly BUDGET tokens. */
const long = (group: number, signal?: AbortSignal): TranslationItem => ({
  group,
  sourceName: 'English',
  targetName: 'German',
  text: `A sentence for group ${group}.`,
  options: { ...DEFAULT_DECODING, maxNewTokens: BUDGET, ignoreEos: true },
  signal,
});

function ok(r: TranslationOutput | XalmaError): TranslationOutput {
  if (isXalmaError(r)) throw r;
  return r;
}

const start = () => startEngineWorker({ modelDir: DEFAULT_MODEL_DIR, mode: 'all', provider: 'cpu' });

describe('ThreadedEngine: aborts', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await start();
  });
  afterAll(async () => {
    await engine.close();
  });

  it('forwards an abort to the worker: the aborted row stops early, the rest of its batch runs to the end', async () => {
    const controller = new AbortController();
    const call = engine.translateBatch([long(1, controller.signal), long(2)]);
    controller.abort(); // after the call was sent: only a message can reach the worker now
    const [aborted, other] = (await call).map(ok);
    expect(aborted.finishReason).toBe('aborted');
    expect(aborted.outputTokens).toBeLessThan(BUDGET);
    expect(other).toMatchObject({ finishReason: 'length', outputTokens: BUDGET });
  });

  it('an item aborted before the call is not generated', async () => {
    const controller = new AbortController();
    controller.abort();
    const [aborted, other] = (await engine.translateBatch([long(3, controller.signal), long(4)])).map(ok);
    expect(aborted).toMatchObject({ finishReason: 'aborted', outputTokens: 0 });
    expect(other.outputTokens).toBe(BUDGET);
  });
});

describe('ThreadedEngine: a worker that stops', () => {
  it('fails the pending call with ENGINE_FAILED, and every later call at once with the same code', { timeout: 20_000 }, async () => {
    const engine = await start();
    // The worker dies as a crash would end it: from outside, in the middle of a generation.
    const worker = (engine as unknown as { worker: Worker }).worker;
    expect(worker.threadId).toBeGreaterThan(0);
    const inProgress = engine.translateBatch([long(1)]);
    const died = worker.terminate();
    await expect(inProgress).rejects.toMatchObject({ code: 'ENGINE_FAILED' });
    await died;
    await expect(engine.translateBatch([long(2)])).rejects.toMatchObject({ code: 'ENGINE_FAILED' });
    await expect(engine.warmup()).rejects.toMatchObject({ code: 'ENGINE_FAILED' });
    expect(engine.stats()).toMatchObject({ batches: expect.any(Number) }); // still readable: metrics keep scraping
    await engine.close();
  });

  it('a worker that cannot load the model rejects the start with the coded error', async () => {
    const err = await startEngineWorker({ modelDir: '/nonexistent/xalma-model', mode: 'all', provider: 'cpu' }).then(
      () => null,
      (e: unknown) => e,
    );
    // The worker's error crosses the thread as it was: its code, and its message with the detail.
    expect(isXalmaError(err)).toBe(true);
    expect(err).toMatchObject({ code: 'MODEL_FILE_MISSING', status: 500 });
    expect((err as XalmaError).message).toContain('/nonexistent/xalma-model/manifest.json');
  });
});
