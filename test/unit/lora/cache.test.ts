/**
 * The LoRA module cache (src/lora/cache.ts): which modules stay in memory (LRU by use, bounded
 * by count and bytes), that a module in use by a batch is never dropped from under it, and that
 * a failed load is reported and retried rather than cached.
 *
 * Observed from the outside: which loads the cache asks for, whether `acquire` hands back the
 * same module object (still in memory) or a fresh one (loaded again), and its counters.
 */
import { describe, expect, it } from 'vitest';
import { ModuleCache } from '../../../src/lora/cache.ts';
import type { LoadedModule } from '../../../src/lora/module-file.ts';

/** A loader that records every call; a group in `failing` rejects, `hold` keeps loads pending. */
class Loader {
  readonly calls: number[] = [];
  readonly failing = new Set<number>();
  private held: Array<() => void> | null = null;

  constructor(private readonly bytes: (group: number) => number = () => 100) {}

  readonly load = async (group: number): Promise<LoadedModule> => {
    this.calls.push(group);
    if (this.held) await new Promise<void>((resolve) => this.held!.push(resolve));
    if (this.failing.has(group)) throw new Error(`group ${group}: bad file`);
    return { group, factors: new Map(), bytes: this.bytes(group) };
  };

  hold(): void {
    this.held = [];
  }

  releaseHeld(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const go of held) go();
  }
}

function cacheWith(loader: Loader, limits: { maxModules?: number; maxBytes?: number } = {}) {
  return new ModuleCache({ maxModules: limits.maxModules ?? 2, maxBytes: limits.maxBytes ?? 1e9, load: loader.load });
}

/** acquire + release: one batch's use of a group. */
async function use(cache: ModuleCache, group: number): Promise<LoadedModule> {
  const m = await cache.acquire(group);
  cache.release(group);
  return m;
}

describe('ModuleCache: what stays resident', () => {
  it('a resident module is a hit: the same object, no load', async () => {
    const loader = new Loader();
    const cache = cacheWith(loader);
    const first = await use(cache, 1);
    expect(await use(cache, 1)).toBe(first);
    expect(loader.calls).toEqual([1]);
    expect(cache.stats.loads[1]).toBe(1);
    expect(cache.stats.hits[1]).toBe(1);
  });

  it('evicts the least recently used module when the count bound is reached', async () => {
    const loader = new Loader();
    const cache = cacheWith(loader, { maxModules: 2 });
    await use(cache, 1);
    await use(cache, 2);
    await use(cache, 1); // 1 is now more recent than 2
    await use(cache, 3); // evicts 2, not 1
    expect(loader.calls).toEqual([1, 2, 3]);
    await use(cache, 1);
    await use(cache, 3);
    expect(loader.calls).toEqual([1, 2, 3]);
    await use(cache, 2);
    expect(loader.calls).toEqual([1, 2, 3, 2]);
    expect(cache.stats.evictions[2]).toBe(1);
    expect(cache.stats.evictions[1]).toBe(1); // loading 2 again evicted 1 (least recent of 1, 3)
  });

  it('evicts by bytes: modules that do not fit together replace each other', async () => {
    const loader = new Loader((group) => (group === 9 ? 150 : 60));
    const cache = cacheWith(loader, { maxModules: 10, maxBytes: 200 });
    await use(cache, 1);
    await use(cache, 2); // 120 bytes: both fit
    await use(cache, 1);
    expect(loader.calls).toEqual([1, 2]);
    await use(cache, 9); // 150 more: 2 then 1 must go (least recent first)
    await use(cache, 9);
    expect(loader.calls).toEqual([1, 2, 9]);
    await use(cache, 1);
    expect(loader.calls).toEqual([1, 2, 9, 1]);
    expect(cache.stats.evictions).toMatchObject({ 1: 1, 2: 1 });
  });
});

describe('ModuleCache: pinning', () => {
  it('a module acquired by a running batch stays usable after the LRU evicts it, and is freed on its last release', async () => {
    const loader = new Loader();
    const cache = cacheWith(loader, { maxModules: 1 });
    const pinned = await cache.acquire(1);
    await use(cache, 2); // the LRU holds one module: 1 is evicted while pinned
    expect(cache.stats.evictions[1]).toBe(1);
    // Still in memory: a second batch of group 1 gets the same module without a load.
    expect(await cache.acquire(1)).toBe(pinned);
    expect(loader.calls).toEqual([1, 2]);
    cache.release(1);
    cache.release(1);
    await use(cache, 3); // evicts 1 again; now nothing holds it
    const again = await use(cache, 1);
    expect(again).not.toBe(pinned);
    expect(loader.calls).toEqual([1, 2, 3, 1]);
  });

  it('a module evicted while pinned leaves memory at its release: the next acquire loads it again', async () => {
    const loader = new Loader();
    const cache = cacheWith(loader, { maxModules: 1 });
    const pinned = await cache.acquire(1);
    await use(cache, 2); // evicted while pinned
    cache.release(1);
    expect(await use(cache, 1)).not.toBe(pinned);
    expect(loader.calls).toEqual([1, 2, 1]);
  });

  it('a module pinned twice survives the first release', async () => {
    const loader = new Loader();
    const cache = cacheWith(loader, { maxModules: 1 });
    const m = await cache.acquire(1);
    await cache.acquire(1);
    await use(cache, 2); // evicts 1 while pinned twice
    cache.release(1);
    expect(await use(cache, 1)).toBe(m); // one pin left: still the same module, no load
    expect(loader.calls).toEqual([1, 2]);
  });
});

describe('ModuleCache: loads', () => {
  it('concurrent acquires of one group share one load', async () => {
    const loader = new Loader();
    const cache = cacheWith(loader);
    loader.hold();
    const both = Promise.all([cache.acquire(4), cache.acquire(4)]);
    await Promise.resolve();
    loader.releaseHeld();
    const [a, b] = await both;
    expect(a).toBe(b);
    expect(loader.calls).toEqual([4]);
    expect(cache.stats.loads[4]).toBe(1);
  });

  it('a failed load rejects with its error, is counted as a failure and not cached: the next acquire loads again', async () => {
    const loader = new Loader();
    const cache = cacheWith(loader);
    loader.failing.add(3);
    await expect(cache.acquire(3)).rejects.toThrow('group 3: bad file');
    await expect(cache.acquire(3)).rejects.toThrow('group 3: bad file');
    expect(loader.calls).toEqual([3, 3]);
    expect(cache.stats.failures[3]).toBe(2);
    expect(cache.stats.loads[3]).toBeUndefined();
    loader.failing.delete(3); // the file is fixed on disk
    const m = await use(cache, 3);
    expect(m.group).toBe(3);
    expect(loader.calls).toEqual([3, 3, 3]);
    expect(await use(cache, 3)).toBe(m);
  });

  it('every caller waiting on a failing load gets the error, and a later acquire tries again', async () => {
    const loader = new Loader();
    const cache = cacheWith(loader);
    loader.failing.add(5);
    loader.hold();
    const waiting = [cache.acquire(5), cache.acquire(5)].map((p) => p.then(() => 'ok', (e: Error) => e.message));
    await Promise.resolve();
    loader.releaseHeld();
    expect(await Promise.all(waiting)).toEqual(['group 5: bad file', 'group 5: bad file']);
    expect(loader.calls).toEqual([5]);
    loader.failing.delete(5);
    expect((await use(cache, 5)).group).toBe(5);
    expect(loader.calls).toEqual([5, 5]);
  });

  it('a failed load leaves the resident modules alone', async () => {
    const loader = new Loader();
    const cache = cacheWith(loader, { maxModules: 2 });
    const one = await use(cache, 1);
    const two = await use(cache, 2);
    loader.failing.add(3);
    await expect(cache.acquire(3)).rejects.toThrow();
    expect(await use(cache, 1)).toBe(one);
    expect(await use(cache, 2)).toBe(two);
    expect(loader.calls).toEqual([1, 2, 3]);
  });

  it('disposes what leaves residency: at eviction when unpinned, at the last release when pinned, and all on clear (merged mode releases sessions so)', async () => {
    const disposed: string[] = [];
    const cache = new ModuleCache<{ name: string }>({
      maxModules: 1,
      maxBytes: 1e9,
      sizeOf: () => 1,
      load: async (group) => ({ name: `s${group}` }),
      dispose: (value, group) => disposed.push(`${value.name}@${group}`),
    });
    await cache.acquire(1);
    cache.release(1);
    await cache.acquire(2); // evicts 1, unpinned: disposed now
    expect(disposed).toEqual(['s1@1']);
    await cache.acquire(3); // evicts 2 while pinned: parked, not disposed
    expect(disposed).toEqual(['s1@1']);
    cache.release(2);
    expect(disposed).toEqual(['s1@1', 's2@2']);
    cache.release(3);
    cache.clear();
    expect(disposed).toEqual(['s1@1', 's2@2', 's3@3']);
    expect(cache.stats.evictions).toEqual({ 1: 1, 2: 1 });
  });
});

