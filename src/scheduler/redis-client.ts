/**
 * The Redis connection behind SharedCache (node-redis, the client Redis maintains). Everything
 * here serves one rule: a Redis that is down, restarting or slow must cost a request at most
 * `timeoutMs`, never an error.
 *
 * - Commands time out after `timeoutMs` (node-redis per-command timeout).
 * - Nothing is queued while disconnected (disableOfflineQueue): a command then fails at once.
 * - The client reconnects by itself for ever, backing off to RECONNECT_MAX_MS.
 * - Its 'error' events are consumed here (an unhandled 'error' event would end the process);
 *   SharedCache logs the failures that reach a request, once per outage.
 */
import { createClient } from 'redis';
import type { RedisLike } from './shared-cache.ts';

/**
 * 1 s: a restarted Redis is found again within a second (the cluster test restarts one);
 * shorter gains little and turns a long outage into a stream of connection attempts.
 */
const RECONNECT_MAX_MS = 1000;

export interface RedisConnection {
  client: RedisLike;
  close(): Promise<void>;
}

export function connectRedis(url: string, timeoutMs: number): RedisConnection {
  const raw = createClient({
    url,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: Math.max(timeoutMs, 1000),
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 10), RECONNECT_MAX_MS),
    },
  });
  raw.on('error', () => {});
  // In the background: the server starts and translates whether or not Redis is there yet. The
  // first attempt's failure is retried by reconnectStrategy; commands meanwhile fail fast.
  raw.connect().catch(() => {});
  const timed = raw.withCommandOptions({ timeout: timeoutMs });
  return {
    client: {
      get isReady() {
        return raw.isReady;
      },
      get: (key) => timed.get(key),
      set: (key, value, options) => (options ? timed.set(key, value, options) : timed.set(key, value)),
    },
    async close() {
      raw.destroy();
    },
  };
}
