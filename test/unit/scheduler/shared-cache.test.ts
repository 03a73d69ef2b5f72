import { describe, expect, it } from 'vitest';
import { RETRY_AFTER_FAILURE_MS, SharedCache, type RedisLike } from '../../../src/scheduler/shared-cache.ts';

/** An in-memory Redis that can be switched to failing. */
class FakeRedis implements RedisLike {
  isReady = true;
  readonly store = new Map<string, { value: string; ex?: number }>();
  failing = false;
  gets = 0;
  async get(key: string): Promise<string | null> {
    this.gets++;
    if (this.failing) throw new Error('connection refused');
    return this.store.get(key)?.value ?? null;
  }
  async set(key: string, value: string, options?: { EX: number }): Promise<unknown> {
    if (this.failing) throw new Error('connection refused');
    this.store.set(key, { value, ex: options?.EX });
    return 'OK';
  }
}

function logger() {
  const lines: Array<{ level: string; msg: string }> = [];
  const log = (level: string) => (_obj: unknown, msg: string) => void lines.push({ level, msg });
  return { lines, logger: { warn: log('warn'), info: log('info') } as never };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('SharedCache', () => {
  it('stores under a hashed key with the TTL and answers the value back', async () => {
    const redis = new FakeRedis();
    const cache = new SharedCache<{ text: string }>({ client: redis, ttlSeconds: 60 });
    cache.set('["m","fr","de",8,1,false,"Bonjour"]', { text: 'Hallo' });
    await flush();
    const [[key, entry]] = [...redis.store];
    expect(key).toMatch(/^xalma:tc:v1:[\w-]{43}$/);
    expect(entry.ex).toBe(60);
    expect(await cache.get('["m","fr","de",8,1,false,"Bonjour"]')).toEqual({ text: 'Hallo' });
    expect(await cache.get('["m","fr","de",8,1,false,"other"]')).toBeUndefined();
    expect({ hits: cache.hits, misses: cache.misses, errors: cache.errors, state: cache.state }).toEqual({ hits: 1, misses: 1, errors: 0, state: 'up' });
  });

  it('a TTL of 0 stores without expiry', async () => {
    const redis = new FakeRedis();
    new SharedCache({ client: redis, ttlSeconds: 0 }).set('k', { text: 'v' });
    await flush();
    expect([...redis.store.values()][0].ex).toBeUndefined();
  });

  it('a failing Redis is a miss, counted, logged once per outage and once on recovery', async () => {
    let now = 0;
    const redis = new FakeRedis();
    const { lines, logger: log } = logger();
    const cache = new SharedCache<{ text: string }>({ client: redis, ttlSeconds: 60, logger: log, now: () => now });
    redis.failing = true;
    expect(await cache.get('a')).toBeUndefined();
    cache.set('a', { text: 'x' }); // within the retry interval: not sent
    await flush();
    now += RETRY_AFTER_FAILURE_MS;
    expect(await cache.get('a')).toBeUndefined();
    expect(cache.errors).toBe(2);
    expect(cache.state).toBe('down');
    expect(lines.filter((l) => l.level === 'warn')).toHaveLength(1);

    redis.failing = false;
    now += RETRY_AFTER_FAILURE_MS;
    cache.set('a', { text: 'x' });
    await flush();
    expect(await cache.get('a')).toEqual({ text: 'x' });
    expect(cache.state).toBe('up');
    expect(lines.map((l) => l.level)).toEqual(['warn', 'info']);
  });

  it('after a failure, lookups skip Redis for the retry interval instead of paying its timeout each', async () => {
    let now = 1000;
    const redis = new FakeRedis();
    const cache = new SharedCache<{ text: string }>({ client: redis, ttlSeconds: 60, now: () => now });
    redis.failing = true;
    await cache.get('a');
    expect(redis.gets).toBe(1);
    now += RETRY_AFTER_FAILURE_MS - 1;
    await cache.get('a');
    await cache.get('b');
    expect(redis.gets).toBe(1);
    expect(cache.skipped).toBe(2);
    now += 1;
    await cache.get('a');
    expect(redis.gets).toBe(2);
  });

  it('while the client is not connected nothing is sent; a connection lost after a success is an outage, logged once', async () => {
    const redis = new FakeRedis();
    const { lines, logger: log } = logger();
    const cache = new SharedCache<{ text: string }>({ client: redis, ttlSeconds: 60, logger: log });
    redis.isReady = false;
    expect(await cache.get('a')).toBeUndefined();
    cache.set('a', { text: 'x' });
    expect({ gets: redis.gets, stored: redis.store.size, skipped: cache.skipped, errors: cache.errors, state: cache.state }).toEqual({ gets: 0, stored: 0, skipped: 1, errors: 0, state: 'connecting' });
    expect(lines).toEqual([]);
    redis.isReady = true;
    await cache.get('a');
    expect(cache.state).toBe('up');
    redis.isReady = false;
    await cache.get('a');
    await cache.get('b');
    expect(cache.state).toBe('down');
    expect(lines.filter((l) => l.level === 'warn')).toHaveLength(1);
  });

  it('an entry that is not JSON is a miss, not an error', async () => {
    const redis = new FakeRedis();
    const cache = new SharedCache<{ text: string }>({ client: redis, ttlSeconds: 60 });
    redis.store.set(SharedCache.redisKey('k'), { value: '{not json' });
    expect(await cache.get('k')).toBeUndefined();
    expect({ misses: cache.misses, errors: cache.errors }).toEqual({ misses: 1, errors: 0 });
  });
});
