import { describe, expect, it } from 'vitest';
import { CharacterQuota, NO_LIMIT } from '../../../src/http/character-quota.ts';

describe('CharacterQuota', () => {
  it('reserves up to the limit exactly and refuses a request that would pass it, reserving nothing for it', () => {
    const q = new CharacterQuota(100);
    expect(q.reserve('key-0', 60)).toBe(true);
    expect(q.reserve('key-0', 41)).toBe(false);
    expect(q.usage('key-0')).toEqual({ count: 60, limit: 100 });
    expect(q.reserve('key-0', 40)).toBe(true);
    expect(q.usage('key-0').count).toBe(100);
    expect(q.reserve('key-0', 1)).toBe(false);
  });

  it('gives back what a failed request reserved, never below zero', () => {
    const q = new CharacterQuota(100);
    q.reserve('key-0', 70);
    q.release('key-0', 70);
    expect(q.usage('key-0').count).toBe(0);
    q.release('key-0', 5);
    expect(q.usage('key-0').count).toBe(0);
  });

  it('keeps one count per account', () => {
    const q = new CharacterQuota(10);
    expect(q.reserve('key-0', 10)).toBe(true);
    expect(q.reserve('key-1', 10)).toBe(true);
    expect(q.usage('key-1')).toEqual({ count: 10, limit: 10 });
  });

  it('without a quota counts but never refuses, and reports DeepL\'s limit of an unlimited account', () => {
    const q = new CharacterQuota(0);
    expect(q.reserve('open', 5e11)).toBe(true);
    expect(q.reserve('open', 5e11)).toBe(true);
    expect(q.usage('open')).toEqual({ count: 1e12, limit: NO_LIMIT });
  });
});
