/**
 * The engine proxy that runs generation in a worker thread (src/engine/threaded-engine.ts), with
 * a real worker on the demo model: aborts reach the worker and stop their row there; the worker
 * pushes its counters so stats() is current when a batch's results are back; a worker that exits
 * or hangs is replaced (its calls get ENGINE_RESTARTED), a worker inside an onnxruntime call is
 * never terminated, and losses beyond the restart budget fail the engine for good.
 * Supervision timing runs on a fake clock: the tests move time, the watchdog only looks.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEngineWorker, type SupervisionOptions, type ThreadedEngine } from '../../../src/engine/threaded-engine.ts';
import { DEFAULT_DECODING, type LoadingMode, type TranslationItem, type TranslationOutput } from '../../../src/engine/types.ts';
import { XalmaError, isXalmaError } from '../../../src/errors.ts';
import { DEFAULT_MODEL_DIR } from '../../../src/paths.ts';

const BUDGET = 300;
/** ignoreEos: a row that is not stopped makes exactly `tokens` tokens. */
const long = (group: number, signal?: AbortSignal, tokens = BUDGET): TranslationItem => ({
  group,
  sourceName: 'English',
  targetName: 'German',
  text: `A sentence for group ${group}.`,
  options: { ...DEFAULT_DECODING, maxNewTokens: tokens, ignoreEos: true },
  signal,
});
const short = (group: number) => long(group, undefined, 4);

function ok(r: TranslationOutput | XalmaError): TranslationOutput {
  if (isXalmaError(r)) throw r;
  return r;
}

/** A clock only the test moves. */
function fakeClock() {
  let t = 1_000_000;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

const start = (supervision: Partial<SupervisionOptions> = {}, mode: LoadingMode = 'all') =>
  startEngineWorker({ modelDir: DEFAULT_MODEL_DIR, mode, provider: 'cpu', supervision });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

describe('ThreadedEngine: aborts', () => {
  let engine: ThreadedEngine;
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

describe('ThreadedEngine: stats pushed from the worker', () => {
  it('stats() counts a batch the moment its results are back, with no other call in between', async () => {
    const engine = await start();
    try {
      await engine.warmup();
      for (const groups of [[1, 2], [3], [1, 5, 8]]) {
        const before = engine.stats();
        const outs = (await engine.translateBatch(groups.map(short))).map(ok);
        const after = engine.stats(); // synchronously: nothing was awaited since the results came back
        expect(after.batches - before.batches).toBe(1);
        expect(after.rows - before.rows).toBe(groups.length);
        expect(after.outputTokens - before.outputTokens).toBe(outs.reduce((n, o) => n + o.outputTokens, 0));
      }
    } finally {
      await engine.close();
    }
  });

  it('a module load is in stats() while the batch that caused it still runs (single mode)', { timeout: 30_000 }, async () => {
    const engine = await start({}, 'single');
    try {
      await engine.warmup(); // loads group 1's module only
      expect(engine.stats().moduleLoads[5] ?? 0).toBe(0);
      let settled = false;
      const call = engine.translateBatch([long(5, undefined, 900)]).finally(() => (settled = true));
      await until(() => (engine.stats().moduleLoads[5] ?? 0) === 1 || settled, 'the module load of group 5');
      expect(settled).toBe(false); // seen mid-batch, not only with the batch's results
      expect(ok((await call)[0]).outputTokens).toBe(900);
    } finally {
      await engine.close();
    }
  });
});

describe('ThreadedEngine: supervision', () => {
  const engines: ThreadedEngine[] = [];
  afterEach(async () => {
    await Promise.all(engines.splice(0).map((e) => e.close()));
  });
  const supervised = async (supervision: Partial<SupervisionOptions>) => {
    const engine = await start(supervision);
    engines.push(engine);
    await engine.warmup();
    return engine;
  };

  it('a worker that exits mid-batch: that batch and calls during the restart get ENGINE_RESTARTED, later calls run on a new warm worker, counters carry over', { timeout: 30_000 }, async () => {
    const clock = fakeClock();
    const engine = await supervised({ now: clock.now, hangTimeoutMs: 0 });
    ok((await engine.translateBatch([short(2)]))[0]);
    const first = engine.workerThreadId;
    const before = engine.stats();

    const inFlight = engine.translateBatch([long(1)]);
    engine.injectFault('exit'); // reaches the worker after the batch started, between two onnxruntime calls
    await expect(inFlight).rejects.toMatchObject({ code: 'ENGINE_RESTARTED', status: 503 });
    expect(engine.health()).toMatchObject({ state: 'restarting', restarts: 1 });
    await expect(engine.translateBatch([short(3)])).rejects.toMatchObject({ code: 'ENGINE_RESTARTED' });

    await until(() => engine.health().state === 'serving', 'the replacement to be warm');
    expect(engine.stats().batches).toBe(before.batches + 1); // serving only once its warm-up ran
    expect(engine.workerThreadId).not.toBe(first);
    const [out] = (await engine.translateBatch([short(3)])).map(ok);
    expect(out.outputTokens).toBe(4);
    // The lost worker's counts stay; the replacement added its warm-up and the last batch.
    const after = engine.stats();
    expect(after.batches).toBe(before.batches + 2);
    expect(after.rows).toBe(before.rows + 2);
  });

  it('losses beyond the budget within the window fail the engine for good; losses further apart than the window do not', { timeout: 40_000 }, async () => {
    const clock = fakeClock();
    const engine = await supervised({ now: clock.now, maxRestarts: 1, restartWindowMs: 60_000, hangTimeoutMs: 0 });
    const lose = async () => {
      engine.injectFault('exit');
      await until(() => engine.health().state !== 'serving', 'the worker to be lost');
    };

    await lose();
    expect(engine.health()).toMatchObject({ state: 'restarting', restarts: 1 });
    await until(() => engine.health().state === 'serving', 'the first replacement');

    clock.advance(60_000); // the first restart leaves the window
    await lose();
    expect(engine.health()).toMatchObject({ state: 'restarting', restarts: 2 });
    await until(() => engine.health().state === 'serving', 'the second replacement');

    clock.advance(59_999); // the second restart is still in the window: no budget left
    await lose();
    expect(engine.health()).toMatchObject({ state: 'failed', restarts: 2 });
    expect(engine.health().lastFailure).toContain('exited with code 1');
    await expect(engine.translateBatch([short(1)])).rejects.toMatchObject({ code: 'ENGINE_FAILED' });
    await sleep(50);
    expect(engine.health().state).toBe('failed'); // and it stays so: no further replacement
  });

  it('a worker whose message loop hangs outside onnxruntime is condemned, terminated and replaced; its pending call gets ENGINE_RESTARTED', { timeout: 30_000 }, async () => {
    const clock = fakeClock();
    const engine = await supervised({ now: clock.now, hangTimeoutMs: 5_000, checkIntervalMs: 5 });
    const first = engine.workerThreadId;
    engine.injectFault('block');
    const pending = engine.translateBatch([short(1)]);
    const outcome = pending.then(() => 'answered', (e: XalmaError) => e.code); // handled while the loop below waits
    await sleep(50); // the watchdog looks, but the fake clock has not moved: no verdict yet
    expect(engine.health()).toMatchObject({ state: 'serving', restarts: 0 });

    // Past the timeout; again while no verdict came (a look delayed on a loaded machine may first
    // see the warm-up's last call end, which rightly restarts the ping's clock).
    for (let i = 0; i < 100 && engine.health().state === 'serving'; i++) {
      clock.advance(5_000);
      await sleep(20);
    }
    expect(await outcome).toBe('ENGINE_RESTARTED');
    expect(engine.health().lastFailure).toMatch(/answered nothing for \d+ ms outside onnxruntime/);
    await until(() => engine.health().state === 'serving', 'the replacement');
    expect(engine.health().restarts).toBe(1);
    expect(engine.workerThreadId).not.toBe(first);
    expect(ok((await engine.translateBatch([short(1)]))[0]).outputTokens).toBe(4);
  });

  it('a worker inside an onnxruntime call is never terminated, however long it is silent', { timeout: 30_000 }, async () => {
    const clock = fakeClock();
    const engine = await supervised({ now: clock.now, hangTimeoutMs: 5_000, checkIntervalMs: 5 });
    const first = engine.workerThreadId;
    engine.injectFault('block-in-ort'); // counted as in a call, as a long prefill would be
    const pending = engine.translateBatch([short(1)]);
    // The fault is a message: on a loaded machine the clock must not move before it has begun.
    await until(() => engine.ortCallsInFlight > 0, 'the worker inside the blocking call');
    for (let i = 0; i < 10; i++) {
      clock.advance(5_000);
      await sleep(20); // a few looks of the watchdog at each step
    }
    expect(engine.health()).toMatchObject({ state: 'serving', restarts: 0 });
    engine.releaseFault();
    expect(ok((await pending)[0]).outputTokens).toBe(4);
    expect(engine.workerThreadId).toBe(first);
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
