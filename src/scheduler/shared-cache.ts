/**
 * The optional second-level translation cache that replicas share (`--cache-url redis://...`).
 * The in-process TranslationCache stays first (L1): it answers in microseconds and survives a
 * Redis outage; this one (L2) lets a text translated on replica A answer on replica B.
 *
 * Keys are the in-process cache's keys (TranslationCache.key: model, mode-independent decoding
 * options, pair, text), hashed so that a 4000-character text does not make a 4000-byte Redis key.
 *
 * Redis is never allowed to fail a request. Every command has a short timeout and nothing is
 * queued while the connection is down (disableOfflineQueue), so a lookup fails fast; a failure
 * counts in `errors`, and the first one after a success is logged once (and the recovery once).
 * After a failure, lookups are skipped for RETRY_AFTER_FAILURE_MS, so a Redis that hangs (it
 * still accepts connections but does not answer) costs one timeout per interval, not one per
 * request.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';

/** The subset of a node-redis client this cache uses (tests pass a fake). */
export interface RedisLike {
  /** false while (re)connecting: nothing is sent then (node-redis' isReady). */
  readonly isReady?: boolean;
  get(key: string): Promise<string | null>;
  set(key: string, value: string, options?: { EX: number }): Promise<unknown>;
}

export type SharedCacheState = 'connecting' | 'up' | 'down';

export interface SharedCacheOptions {
  client: RedisLike;
  /** Seconds an entry lives, 0 = no expiry. */
  ttlSeconds: number;
  logger?: Logger;
  /** Injectable clock (ms). */
  now?: () => number;
}

/**
 * 1 s: short enough that a Redis back after a restart serves hits again within a second, long
 * enough that a hung Redis costs one --cache-timeout-ms per second instead of one per request.
 */
export const RETRY_AFTER_FAILURE_MS = 1000;

/** Prefix with a version: a change of the stored shape must not read old entries. */
const KEY_PREFIX = 'xalma:tc:v1:';

export class SharedCache<V> {
  hits = 0;
  misses = 0;
  /** Commands that failed or timed out (lookups and stores). */
  errors = 0;
  /** Lookups not sent because Redis failed less than RETRY_AFTER_FAILURE_MS ago. */
  skipped = 0;
  private current: SharedCacheState = 'connecting';
  private failedAt = -Infinity;
  private readonly now: () => number;

  constructor(private readonly options: SharedCacheOptions) {
    this.now = options.now ?? Date.now;
  }

  get state(): SharedCacheState {
    return this.current;
  }

  static redisKey(key: string): string {
    return KEY_PREFIX + createHash('sha256').update(key).digest('base64url');
  }

  /** Never rejects: a failure is a miss. */
  async get(key: string): Promise<V | undefined> {
    if (!this.available()) {
      this.skipped++;
      return undefined;
    }
    let raw: string | null;
    try {
      raw = await this.options.client.get(SharedCache.redisKey(key));
    } catch (err) {
      this.failed(err);
      return undefined;
    }
    this.succeeded();
    if (raw === null) {
      this.misses++;
      return undefined;
    }
    try {
      const value = JSON.parse(raw) as V;
      this.hits++;
      return value;
    } catch (err) {
      // Not ours or truncated: a miss; the store after translation overwrites it.
      this.options.logger?.warn({ err }, 'shared cache entry is not valid JSON; ignored');
      this.misses++;
      return undefined;
    }
  }

  /** Fire and forget: the answer never waits for the store. */
  set(key: string, value: V): void {
    if (!this.available()) return;
    const ttl = this.options.ttlSeconds;
    this.options.client.set(SharedCache.redisKey(key), JSON.stringify(value), ttl > 0 ? { EX: ttl } : undefined).then(
      () => this.succeeded(),
      (err: unknown) => this.failed(err),
    );
  }

  /**
   * Whether to send a command: not while the client is not connected (it would fail at once;
   * a connection lost after a success is reported as an outage), nor within the retry interval
   * after a failure.
   */
  private available(): boolean {
    if (this.options.client.isReady === false) {
      if (this.current === 'up') this.failed(new Error('connection lost'));
      return false;
    }
    return !(this.current === 'down' && this.now() - this.failedAt < RETRY_AFTER_FAILURE_MS);
  }

  private failed(err: unknown): void {
    this.errors++;
    this.failedAt = this.now();
    if (this.current !== 'down') {
      this.current = 'down';
      this.options.logger?.warn({ err: err instanceof Error ? err.message : String(err) }, 'shared cache unavailable; translating without it until it answers again');
    }
  }

  private succeeded(): void {
    if (this.current === 'up') return;
    if (this.current === 'down') this.options.logger?.info({ errors: this.errors }, 'shared cache answers again');
    this.current = 'up';
  }
}
