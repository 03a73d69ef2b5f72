/**
 * The HTTP thread stays responsive while the engine generates: generation runs in a worker
 * thread, so /health answers between decode steps of a long translation.
 *
 * Measured as a ratio, not a latency bound (a bound in ms fails on a busy shared machine and
 * passes on a fast one whatever the design): the event-loop utilization of this thread, which
 * is the server's HTTP thread, over the generation. With the engine in a worker it is the small
 * share spent answering health checks (about 0.1 here); with ORT's synchronous run on this
 * thread it is close to 1 whatever the machine's speed.
 */
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { postJson, sleep, startTestServer, until } from './helpers.ts';

let server: RunningServer;

beforeAll(async () => {
  server = await startTestServer({ maxNewTokensLimit: 4000 });
});

afterAll(async () => {
  await server.shutdown('test end');
});

describe('responsiveness under generation', () => {
  it('answers /health during a long translation, with the HTTP thread idle most of the time', async () => {
    const { scheduler } = server.app.xalma;
    let done = false;
    const long = postJson(`${server.url}/v1/translate`, {
      text: 'Generate for a while, please.',
      source: 'en',
      target: 'de',
      options: { maxNewTokens: 900, ignoreEos: true },
    }).finally(() => (done = true));
    await until(() => scheduler.inFlight === 1, 10_000, 'the translation running');
    const start = performance.eventLoopUtilization();
    let answered = 0;
    while (!done) {
      const res = await fetch(`${server.url}/health`);
      expect(res.status).toBe(200);
      if (!done) answered++;
      await sleep(20);
    }
    const { utilization } = performance.eventLoopUtilization(start);
    const result = await long;
    expect(result.status).toBe(200);
    expect(result.body.translations[0].outputTokens).toBe(900);
    console.log(`responsive: ${answered} health checks answered during the generation, event-loop utilization ${utilization.toFixed(3)}`);
    expect(answered).toBeGreaterThan(3); // the health checks overlapped the generation
    expect(utilization).toBeLessThan(0.5);
  });
});
