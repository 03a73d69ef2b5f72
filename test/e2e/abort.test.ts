import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { postJson, startTestServer, until } from './helpers.ts';

let server: RunningServer;
beforeAll(async () => {
  // One row per batch and one queue slot make slots observable.
  server = await startTestServer({ maxBatchSize: 1, maxQueue: 1, maxWaitMs: 0, maxNewTokensLimit: 1000, cacheBytes: 0 });
});
afterAll(async () => {
  await server.shutdown('test done');
});

// ignoreEos: a row that is not stopped generates exactly its budget (the demo model could
// otherwise end early by chance and pass for a stopped row). 900 fits the 1024-token context.
const BUDGET = 900;
const long = (text: string) => ({ text, source: 'de', target: 'en', options: { maxNewTokens: BUDGET, ignoreEos: true } });

describe('client aborts', () => {
  it('a client that disconnects frees its queue slot and its running batch row', async () => {
    const { scheduler, engine } = server.app.xalma;
    const url = `${server.url}/v1/translate`;
    const rowsAborted = async () => {
      const m = await (await fetch(`${server.url}/metrics`)).text();
      return Number(/xalma_scheduler_rows_total\{state="aborted"\} (\d+)/.exec(m)?.[1] ?? 0);
    };

    const tokensBefore = engine.stats().outputTokens;
    const a = new AbortController();
    const running = postJson(url, long('Erster langer Satz.'), { signal: a.signal }).catch((e: Error) => e.name);
    await until(() => scheduler.inFlight === 1, 10_000, 'A running');
    const b = new AbortController();
    const queued = postJson(url, long('Zweiter langer Satz.'), { signal: b.signal }).catch((e: Error) => e.name);
    await until(() => scheduler.depth === 1, 10_000, 'B queued');

    // The queue is at its bound: a newcomer is refused.
    const refused = await postJson(url, { text: 'kurz', source: 'de', target: 'en', options: { maxNewTokens: 2 } });
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe('QUEUE_FULL');

    // B disconnects while queued: its slot is free at once.
    b.abort();
    expect(await queued).toBe('AbortError');
    await until(() => scheduler.depth === 0, 5_000, 'B removed from the queue');

    // A disconnects while running: the engine stops its row before its budget and frees the slot.
    // Counted in tokens, not ms: A's row is the only one the engine ran since tokensBefore
    // (B never left the queue, the newcomer was refused), and unstopped it makes exactly BUDGET.
    a.abort();
    expect(await running).toBe('AbortError');
    await until(() => scheduler.inFlight === 0, 10_000, 'A stopped');
    const tokensOfA = engine.stats().outputTokens - tokensBefore;

    const next = await postJson(url, { text: 'Danach', source: 'de', target: 'en', options: { maxNewTokens: 4 } });
    expect(next.status).toBe(200);
    expect(await rowsAborted()).toBe(2);
    expect(tokensOfA).toBeLessThan(BUDGET);
    console.log(`abort: the aborted row stopped after ${tokensOfA} of ${BUDGET} tokens`);
  });
});
