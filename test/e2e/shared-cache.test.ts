/**
 * e2e: the shared translation cache against a real redis-server (Debian's, installed when
 * missing). Two apps stand for two replicas: separate in-process caches, one Redis.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST, closeShared, makeApp } from '../http/helpers.ts';
import { ensureDebianPackages, freePort, portAnswers, startRedis, waitFor, type Service } from '../support/services.ts';

const unavailable = ensureDebianPackages({ 'redis-server': 'redis-server' });
if (unavailable) console.warn(`shared-cache tests skipped: ${unavailable}`);

function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

describe.skipIf(unavailable)('shared translation cache in Redis', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xalma-redis-'));
  let port: number;
  let redis: Service;
  let a: FastifyInstance;
  let b: FastifyInstance;

  const translate = (app: FastifyInstance, text: string) =>
    app.inject({ method: 'POST', url: '/v1/translate', payload: { text, source: 'fr', target: 'de', options: FAST } });
  const dbSize = async () => {
    const client = createClient({ url: `redis://127.0.0.1:${port}` });
    await client.connect();
    try {
      return await client.dbSize();
    } finally {
      client.destroy();
    }
  };
  const flushAll = async () => {
    const client = createClient({ url: `redis://127.0.0.1:${port}` });
    await client.connect();
    await client.flushAll();
    client.destroy();
  };
  const metrics = async (app: FastifyInstance) => (await app.inject({ method: 'GET', url: '/metrics' })).body;

  beforeAll(async () => {
    port = await freePort();
    redis = startRedis(port, dir);
    await waitFor(() => portAnswers(port), 20_000, 'redis-server');
    const url = `redis://127.0.0.1:${port}`;
    // makeApp runs the engine on this thread (no worker): a batch blocks the event loop, so the
    // production 50 ms command timeout would expire here while Redis had long answered.
    a = await makeApp({ cacheUrl: url, cacheTimeoutMs: 5000 });
    b = await makeApp({ cacheUrl: url, cacheTimeoutMs: 5000 });
    // The clients connect in the background; one answered command each says they are up.
    for (const app of [a, b]) {
      await waitFor(async () => {
        await translate(app, 'warm-up');
        return metric(await metrics(app), 'xalma_shared_cache_up') === 1;
      }, 10_000, 'the Redis client connected');
    }
    await flushAll();
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await redis?.stop();
    await closeShared();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a text translated on replica A is a cache hit on replica B, with the same answer', async () => {
    const hitsBefore = metric(await metrics(b), 'xalma_shared_cache_hits_total');
    const first = await translate(a, 'Bonjour tout le monde');
    expect(first.statusCode).toBe(200);
    expect(first.json().translations[0].cached).toBe(false);
    // The store is fire-and-forget: wait until it has landed in Redis (empty before this test).
    await waitFor(async () => (await dbSize()) === 1, 5000, 'the store from A');
    // B's very first request for the text: answered from Redis, not translated again.
    const onB = (await translate(b, 'Bonjour tout le monde')).json().translations[0];
    expect(onB).toEqual({ ...first.json().translations[0], cached: true });
    expect(metric(await metrics(b), 'xalma_shared_cache_hits_total')).toBe(hitsBefore + 1);
  });

  it('Redis killed: translations go on without 5xx, errors are counted; Redis back: hits again', async () => {
    redis.signal('SIGKILL');
    await redis.exited;
    for (const text of ['Merci beaucoup', 'Au revoir', 'Bonne nuit']) {
      const res = await translate(b, text);
      expect(res.statusCode).toBe(200);
    }
    const down = await metrics(b);
    expect(metric(down, 'xalma_shared_cache_errors_total') + metric(down, 'xalma_shared_cache_skipped_total')).toBeGreaterThanOrEqual(1);
    expect(metric(down, 'xalma_shared_cache_up')).toBe(0);

    redis = startRedis(port, dir);
    await waitFor(() => portAnswers(port), 20_000, 'redis-server again');
    // A fresh Redis is empty. Once both clients have reconnected (each on its own backoff: B's
    // lookups are misses until its client is ready again), a new text stored by A is a hit on B.
    for (const [name, app] of [['A', a], ['B', b]] as const) {
      await waitFor(async () => {
        await translate(app, `Le chat dort ${Date.now()}`);
        return metric(await metrics(app), 'xalma_shared_cache_up') === 1;
      }, 20_000, `${name} reconnecting`);
    }
    const keysBefore = await dbSize();
    const hitsBefore = metric(await metrics(b), 'xalma_shared_cache_hits_total');
    expect((await translate(a, 'Le chien aboie')).json().translations[0].cached).toBe(false);
    await waitFor(async () => (await dbSize()) > keysBefore, 5000, 'the store from A');
    expect((await translate(b, 'Le chien aboie')).json().translations[0].cached).toBe(true);
    expect(metric(await metrics(b), 'xalma_shared_cache_hits_total')).toBe(hitsBefore + 1);
  });
});
