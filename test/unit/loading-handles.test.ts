import { describe, expect, it, vi } from 'vitest';
import type { Engine } from '../../src/engine/types.ts';
import { isXalmaError } from '../../src/errors.ts';
import type { Detector } from '../../src/languages/index.ts';
import { DetectorHandle, EngineHandle } from '../../src/loading-handles.ts';
import type { Manifest } from '../../src/model/manifest-types.ts';

const manifest = { name: 'm', demo: true } as unknown as Manifest;
function fakeEngine() {
  return { close: vi.fn(async () => {}), translateBatch: vi.fn(async () => []), stats: () => ({ batches: 7 }), health: () => ({ state: 'serving', restarts: 2 }) } as unknown as Engine & { close: ReturnType<typeof vi.fn> };
}
function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('EngineHandle', () => {
  it('answers NOT_READY before the engine is in, and delegates after', async () => {
    const handle = new EngineHandle({ manifest, mode: 'all', provider: 'cpu' });
    expect(handle.mixesGroups).toBe(true);
    expect(() => handle.translateBatch([])).toThrow(expect.objectContaining({ code: 'NOT_READY' }));
    expect(handle.stats().batches).toBe(0);
    const engine = fakeEngine();
    await handle.load(Promise.resolve(engine));
    expect(handle.state).toBe('ready');
    await handle.translateBatch([]);
    expect(engine.translateBatch).toHaveBeenCalled();
    expect(handle.health().restarts).toBe(2);
  });

  it('close() while the engine starts waits for it and closes it; load() then rejects SHUTTING_DOWN', async () => {
    const handle = new EngineHandle({ manifest, mode: 'single', provider: 'cpu' });
    const start = deferred<Engine>();
    const loaded = handle.load(start.promise).catch((err: unknown) => err);
    const closed = handle.close();
    const engine = fakeEngine();
    start.resolve(engine);
    await closed;
    expect(engine.close).toHaveBeenCalledTimes(1);
    expect(handle.state).toBe('closed');
    expect(isXalmaError(await loaded, 'SHUTTING_DOWN')).toBe(true);
  });
});

describe('DetectorHandle', () => {
  it('disposes a detector that arrives after close()', async () => {
    const handle = new DetectorHandle();
    const start = deferred<Detector>();
    void handle.load(start.promise).catch(() => {});
    const closed = handle.close();
    const dispose = vi.fn();
    start.resolve({ dispose } as unknown as Detector);
    await closed;
    expect(dispose).toHaveBeenCalledTimes(1);
    expect(() => handle.detect('x')).toThrow(expect.objectContaining({ code: 'NOT_READY' }));
  });
});
