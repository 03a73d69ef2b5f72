/**
 * e2e: the server listens at once and loads behind /ready. Start-up is held at a known point by
 * the `beforeLoaded` hook (no wall-clock bounds): the detector is created and the engine worker
 * is starting, and nothing is reported loaded until the test lets go.
 */
import { connect } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DetectorHandle, type EngineHandle } from '../../src/loading-handles.ts';
import type { RunningServer } from '../../src/server.ts';
import { holdAt, postJson, startTestServer } from './helpers.ts';


function tcpConnects(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

const translation = { text: 'Guten Morgen', source: 'de', target: 'en' };

describe('start-up: the port answers while the detector and the engine load', () => {
  let server: RunningServer | undefined;
  afterEach(async () => {
    await server?.shutdown();
    server = undefined;
    vi.restoreAllMocks();
  });

  it('health 200, ready and translate 503 NOT_READY with Retry-After while loading; 200 and one human line once loaded', async () => {
    const hold = holdAt('detector');
    const write = vi.spyOn(process.stdout, 'write');
    server = await startTestServer({}, { waitReady: false, beforeLoaded: hold.beforeLoaded });
    const { url } = server;
    await hold.atHold;

    expect(await tcpConnects(url)).toBe(true);
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });

    const ready = await fetch(`${url}/ready`);
    expect(ready.status).toBe(503);
    expect(ready.headers.get('retry-after')).toMatch(/^\d+$/);
    const readyBody = (await ready.json()) as { error: { code: string; details: { loading: string[] } } };
    expect(readyBody.error.code).toBe('NOT_READY');
    expect(readyBody.error.details.loading).toEqual(['detector', 'engine']);

    const early = await postJson(`${url}/v1/translate`, translation);
    expect(early.status).toBe(503);
    expect(early.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(early.body.error.code).toBe('NOT_READY');
    expect(early.body.error.details).toEqual({ loading: ['detector', 'engine'] });
    const detect = await postJson(`${url}/v1/detect`, { text: 'Guten Morgen, wie geht es dir?' });
    expect(detect.status).toBe(503);
    expect(detect.body.error.code).toBe('NOT_READY');
    // Static data answers early: the language list comes from manifest.json.
    const languages = await fetch(`${url}/v1/languages`);
    expect(languages.status).toBe(200);
    await languages.arrayBuffer();
    expect(write.mock.calls.some(([chunk]) => String(chunk).startsWith('xalma-serve ready at'))).toBe(false);

    hold.release();
    expect(await server.startup).toBe('ready');
    const readyNow = await fetch(`${url}/ready`);
    expect(readyNow.status).toBe(200);
    expect(((await readyNow.json()) as { status: string }).status).toBe('ready');
    const late = await postJson(`${url}/v1/translate`, translation);
    expect(late.status).toBe(200);
    expect(late.body.model.name).toBeTruthy();
    const lines = write.mock.calls.map(([chunk]) => String(chunk)).filter((chunk) => chunk.startsWith('xalma-serve ready at'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(url);
    expect(lines[0]).toContain(`docs: ${url}/docs`);
    expect(lines[0]).toContain('mode all');
  });

  it('shutdown() during loading stops listening and closes the engine worker that was starting', async () => {
    const hold = holdAt('detector');
    server = await startTestServer({}, { waitReady: false, beforeLoaded: hold.beforeLoaded });
    const { url, app } = server;
    await hold.atHold;
    const engine = app.xalma.engine as EngineHandle;
    expect(engine.state).not.toBe('closed');

    await server.shutdown('test');
    expect(await tcpConnects(url)).toBe(false);
    // The worker started before the hold: shutdown waited for it and closed it.
    expect(engine.state).toBe('closed');
    expect(engine.health()).toEqual({ state: 'serving', restarts: 0 });
    hold.release();
    expect(await server.startup).toBe('stopped');
    server = undefined;
  });

  it("/health keeps answering while lingua's models preload (in steps, not one 9 s block)", async () => {
    // The preload's own start and end, from the handle the server calls; no timing bound.
    let preloading: { start: number; end: number } | undefined;
    const original = DetectorHandle.prototype.preloadInSteps;
    vi.spyOn(DetectorHandle.prototype, 'preloadInSteps').mockImplementation(async function (this: DetectorHandle, signal?: AbortSignal) {
      const start = performance.now();
      await original.call(this, signal);
      preloading = { start, end: performance.now() };
    });
    server = await startTestServer({ detectPreload: 'on' }, { waitReady: false });
    let settled = false;
    void server.startup.finally(() => (settled = true));
    const answered: number[] = [];
    while (preloading === undefined && !settled) {
      const res = await fetch(`${server.url}/health`);
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      answered.push(performance.now());
    }
    expect(preloading).toBeDefined();
    const during = answered.filter((t) => t > preloading!.start && t < preloading!.end).length;
    // One blocking build of every model would let at most one answer through.
    expect(during).toBeGreaterThan(10);
    expect(await server.startup).toBe('ready');
  }, 120_000);
});
