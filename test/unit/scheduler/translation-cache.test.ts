import { describe, expect, it } from 'vitest';
import { DEFAULT_DECODING } from '../../../src/engine/types.ts';
import { TranslationCache } from '../../../src/scheduler/translation-cache.ts';

const parts = (text: string, options = DEFAULT_DECODING) => ({ model: 'm', source: 'de', target: 'en', text, options });

describe('TranslationCache', () => {
  it('caches greedy and seeded sampling, never unseeded sampling', () => {
    expect(TranslationCache.cacheable(DEFAULT_DECODING)).toBe(true);
    expect(TranslationCache.cacheable({ ...DEFAULT_DECODING, sample: true, seed: 3 })).toBe(true);
    expect(TranslationCache.cacheable({ ...DEFAULT_DECODING, sample: true })).toBe(false);
  });

  it('ignores sampling knobs for greedy requests and separates languages, model and options', () => {
    const k = TranslationCache.key(parts('hallo'));
    expect(TranslationCache.key(parts('hallo', { ...DEFAULT_DECODING, temperature: 0.3 }))).toBe(k);
    expect(TranslationCache.key(parts('hallo', { ...DEFAULT_DECODING, maxNewTokens: 9 }))).not.toBe(k);
    expect(TranslationCache.key({ ...parts('hallo'), target: 'fr' })).not.toBe(k);
    expect(TranslationCache.key({ ...parts('hallo'), model: 'other' })).not.toBe(k);
    expect(TranslationCache.key(parts('hallo!'))).not.toBe(k);
  });

  it('stays within its byte bound by evicting least recently used entries', () => {
    const cache = new TranslationCache(4096);
    for (let i = 0; i < 200; i++) cache.set(TranslationCache.key(parts(`text ${i}`)), { text: 'x'.repeat(100) });
    expect(cache.bytes).toBeLessThanOrEqual(4096);
    expect(cache.get(TranslationCache.key(parts('text 199')))).toBeDefined();
    expect(cache.get(TranslationCache.key(parts('text 0')))).toBeUndefined();
    expect(cache.hits).toBe(1);
    expect(cache.misses).toBe(1);
  });

  it('is a no-op when sized 0', () => {
    const cache = new TranslationCache(0);
    cache.set('k', { text: 'a' });
    expect(cache.enabled).toBe(false);
    expect(cache.get('k')).toBeUndefined();
  });
});
