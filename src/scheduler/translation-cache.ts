/**
 * Translation cache for deterministic requests (greedy/beam, or sampling with a seed), bounded
 * by bytes through lru-cache's size accounting. The key holds the model name, the languages,
 * the decoding options that change the output, and the text; the loading mode is left out on
 * purpose: all three modes produce the same tokens for the same request (DESIGN 2 correctness bar).
 * `source` is the caller's source field as normalized ('auto' when detection picks it): detection
 * is deterministic, so a hit can skip planning and detection altogether.
 */
import { LRUCache } from 'lru-cache';
import type { DecodingOptions } from '../engine/types.ts';

/** What is cached: the caller's answer for one text (the HTTP layer stores its response item). */
export interface CachedTranslation {
  text: string;
}

export interface CacheKeyParts {
  model: string;
  source: string;
  target: string;
  text: string;
  options: DecodingOptions;
}

/** Bookkeeping per entry beyond its two strings (object headers, map slot, the item's small fields); a rough overestimate. */
const ENTRY_OVERHEAD_BYTES = 256;

export class TranslationCache<V extends CachedTranslation = CachedTranslation> {
  private readonly lru: LRUCache<string, V> | null;
  hits = 0;
  misses = 0;

  constructor(maxBytes: number) {
    this.lru =
      maxBytes > 0
        ? new LRUCache<string, V>({
            maxSize: maxBytes,
            // JS strings are UTF-16: two bytes per code unit.
            sizeCalculation: (value, key) => 2 * (key.length + value.text.length) + ENTRY_OVERHEAD_BYTES,
          })
        : null;
  }

  get enabled(): boolean {
    return this.lru !== null;
  }

  /** Bytes held now. */
  get bytes(): number {
    return this.lru?.calculatedSize ?? 0;
  }

  get size(): number {
    return this.lru?.size ?? 0;
  }

  /** Only deterministic requests may be cached. */
  static cacheable(options: DecodingOptions): boolean {
    return !options.ignoreEos && (!options.sample || options.seed !== undefined);
  }

  /** A key where options that cannot change the output are normalized away. */
  static key(parts: CacheKeyParts): string {
    const o = parts.options;
    const sampling = o.sample ? [o.temperature, o.topP, o.seed] : [];
    const beam = o.beams > 1 ? [o.lengthPenalty] : [];
    return JSON.stringify([parts.model, parts.source, parts.target, o.maxNewTokens, o.beams, ...beam, o.sample, ...sampling, parts.text]);
  }

  get(key: string): V | undefined {
    if (!this.lru) return undefined;
    const hit = this.lru.get(key);
    if (hit) this.hits++;
    else this.misses++;
    return hit;
  }

  set(key: string, value: V): void {
    this.lru?.set(key, value);
  }
}
