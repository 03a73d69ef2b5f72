import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { SENTENCES } from '../http/helpers.ts';
import { postJson, startTestServer } from './helpers.ts';

const MAX_BATCH = 16;

let server: RunningServer;
beforeAll(async () => {
  server = await startTestServer({ maxBatchSize: MAX_BATCH, maxWaitMs: 5, cacheBytes: 0 });
});
afterAll(async () => {
  await server.shutdown('test done');
});

describe('a mixed-language burst', () => {
  it('serves 64 concurrent requests across all 8 groups, all 200, in fewer engine batches than requests', async () => {
    const engine = server.app.xalma.engine;
    // The worker pushes its counters ahead of every batch's results: these are the burst's own batches.
    const before = engine.stats();
    const targets = ['en', 'de', 'fr', 'ja'];
    const requests = Array.from({ length: 64 }, (_, i) => {
      const s = SENTENCES[i % SENTENCES.length];
      // distinct one-sentence texts (a marker after the full stop would be a sentence of its own),
      // so nothing could be deduplicated; sources given half of the time
      const body = { text: `(${i}) ${s.text}`, target: s.lang === 'en' ? 'de' : i % 5 === 0 ? targets[i % 4] : 'en', ...(i % 2 ? { source: s.lang } : {}), options: { maxNewTokens: 6 } };
      return postJson(`${server.url}/v1/translate`, body);
    });
    const results = await Promise.all(requests);
    expect(results.map((r) => r.status)).toEqual(Array(64).fill(200));
    const groups = new Set(results.map((r) => r.body.translations[0].group));
    expect(groups.size).toBe(8);
    const rows = results.reduce((n, r) => n + (r.body.translations[0].pivot ? 2 : r.body.translations[0].group === null ? 0 : 1), 0);
    const after = engine.stats();
    const batches = after.batches - before.batches;
    // Every row the responses account for reached the engine, exactly once.
    expect(after.rows - before.rows).toBe(rows);
    // Batched: fewer engine calls than requests, and no batch above the cap.
    expect(batches).toBeLessThan(64);
    expect(batches).toBeGreaterThanOrEqual(Math.ceil(rows / MAX_BATCH));
    console.log(`burst: 64 requests, ${rows} engine rows, ${batches} engine batches`);
  });
});
