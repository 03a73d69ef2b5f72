/**
 * The HTTP thread stays responsive while the engine generates: generation runs in a worker
 * thread, so /health answers between decode steps of a long translation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { postJson, sleep, startTestServer } from './helpers.ts';

let server: RunningServer;

beforeAll(async () => {
  server = await startTestServer({ maxNewTokensLimit: 4000 });
});

afterAll(async () => {
  await server.shutdown('test end');
});

describe('responsiveness under generation', () => {
  it('answers /health within 250 ms while a long translation is running', async () => {
    let done = false;
    const long = postJson(`${server.url}/v1/translate`, {
      text: 'Generate for a while, please.',
      source: 'en',
      target: 'de',
      options: { maxNewTokens: 900, ignoreEos: true },
    }).finally(() => (done = true));
    await sleep(300);
    const latencies: number[] = [];
    while (!done && latencies.length < 20) {
      const t0 = performance.now();
      const res = await fetch(`${server.url}/health`);
      latencies.push(performance.now() - t0);
      expect(res.status).toBe(200);
      await sleep(20);
    }
    const result = await long;
    expect(result.status).toBe(200);
    expect(result.body.translations[0].outputTokens).toBe(900);
    expect(latencies.length).toBeGreaterThan(3); // the health checks overlapped the generation
    expect(Math.max(...latencies)).toBeLessThan(250);
  });
});
