/**
 * e2e: the real server with its engine worker supervised (src/engine/threaded-engine.ts), over
 * HTTP. A worker killed while it runs a request is replaced without restarting the process; one
 * loss more than --engine-max-restarts allows in the window makes /health fail. The worker is
 * killed as a crash would end it: it exits by itself, between two onnxruntime calls (a terminate
 * from outside inside a call would abort this whole process).
 * The tests share one server and run in order: the last spends what is left of the budget.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ThreadedEngine } from '../../src/engine/threaded-engine.ts';
import type { EngineHandle } from '../../src/loading-handles.ts';
import type { RunningServer } from '../../src/server.ts';
import { postJson, startTestServer, until } from './helpers.ts';

let server: RunningServer;
beforeAll(async () => {
  server = await startTestServer({ engineMaxRestarts: 1, maxNewTokensLimit: 1000, cacheBytes: 0 });
});
afterAll(async () => {
  await server.shutdown('test done');
});

// Behind the handle startServer gives the app (src/loading-handles.ts): the worker-backed engine.
const engine = () => (server.app.xalma.engine as EngineHandle).current as ThreadedEngine;
const get = async (path: string) => {
  const res = await fetch(`${server.url}${path}`);
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
};
const restartsInMetrics = async () => Number(/^xalma_engine_restarts_total (\d+)$/m.exec((await get('/metrics')).text)?.[1]);
// ignoreEos: the row runs its whole budget, long enough to be killed in the middle of it.
const longRequest = { text: 'Ein langer Satz für den Motor.', source: 'de', target: 'en', options: { maxNewTokens: 900, ignoreEos: true } };
const shortRequest = { text: 'Guten Morgen.', source: 'de', target: 'en', options: { maxNewTokens: 4 } };

describe('engine counters in /metrics', () => {
  it('are current at the first scrape after a request: the module hit of its batch is counted', async () => {
    const moduleHits = async () => [...(await get('/metrics')).text.matchAll(/^xalma_module_hits_total\{group="\d+"\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
    await moduleHits(); // a source that lags one scrape would now hold the numbers of the one below
    const before = await moduleHits();
    expect((await postJson(`${server.url}/v1/translate`, shortRequest)).status).toBe(200);
    expect((await moduleHits()) - before).toBe(1); // one batch of one group (all mode); no second scrape needed
  });
});

describe('engine worker supervision over HTTP', () => {
  it('a worker killed mid-request: that request gets 503 ENGINE_RESTARTED with Retry-After, /ready is 503 until the new worker is warm, the restart is counted, the next request succeeds', { timeout: 60_000 }, async () => {
    const { scheduler } = server.app.xalma;
    expect(await restartsInMetrics()).toBe(0);
    expect((await get('/ready')).status).toBe(200);

    const running = postJson(`${server.url}/v1/translate`, longRequest);
    await until(() => scheduler.inFlight === 1, 10_000, 'the request to run');
    engine().injectFault('exit');
    const res = await running;
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('ENGINE_RESTARTED');
    expect(res.headers.get('retry-after')).toBe('1');

    // The replacement loads the model and warms up (hundreds of ms); it is not ready before.
    const during = await get('/ready');
    expect(during.status).toBe(503);
    expect(during.json().error.code).toBe('NOT_READY');
    expect((await get('/health')).status).toBe(200); // within the budget: the process is fine

    await until(() => engine().health().state === 'serving', 20_000, 'the replacement to be warm');
    expect((await get('/ready')).status).toBe(200);
    expect(await restartsInMetrics()).toBe(1);
    const next = await postJson(`${server.url}/v1/translate`, shortRequest);
    expect(next.status).toBe(200);
    expect(next.body.translations[0].outputTokens).toBeGreaterThan(0);
  });

  it('one loss more than --engine-max-restarts allows within the window makes /health 503 ENGINE_FAILED', { timeout: 30_000 }, async () => {
    engine().injectFault('exit');
    await until(() => engine().health().state === 'failed', 10_000, 'the engine to fail');
    const health = await get('/health');
    expect(health.status).toBe(503);
    expect(health.json().error.code).toBe('ENGINE_FAILED');
    expect((await get('/ready')).status).toBe(503);
    const refused = await postJson(`${server.url}/v1/translate`, shortRequest);
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe('ENGINE_FAILED');
    expect(await restartsInMetrics()).toBe(1); // no replacement was started
  });
});
