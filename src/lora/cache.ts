/**
 * The one owner of module residency: which groups' modules are resident, for single mode (the
 * loaded factors) and merged mode (a session with the module folded in) alike. A byte- and
 * count-bounded LRU (lru-cache) with pinning: what is acquired for running rows is never freed
 * while in use; if the LRU evicts it meanwhile, it is parked until its last release, then
 * disposed. Concurrent acquires of a group share one load. Loading goes through `load`; binding
 * to sessions is the runners' business (vLLM's split between the adapter LRU and
 * `set_lora(slot, ...)`).
 *
 * A load that fails is not cached: the group's requests get the coded error, and the next
 * request for that group tries again (a module fixed on disk comes back without a restart).
 */
import { LRUCache } from 'lru-cache';
import type { LoadedModule } from './module-file.ts';

export interface ModuleCacheOptions<T> {
  /** Most modules resident at once. */
  maxModules: number;
  /** Most bytes resident at once (as `sizeOf` counts them). */
  maxBytes: number;
  load: (group: number) => Promise<T>;
  /** Bytes of one resident module; default its `bytes` field. */
  sizeOf?: (value: T) => number;
  /** Frees what is no longer resident nor pinned (a session's native memory); default: the GC does. */
  dispose?: (value: T, group: number) => void;
}

export interface ModuleCacheStats {
  loads: Record<number, number>;
  hits: Record<number, number>;
  evictions: Record<number, number>;
  failures: Record<number, number>;
}

/** Adds one to a per-group counter. */
export function bump(rec: Record<number, number>, group: number): void {
  rec[group] = (rec[group] ?? 0) + 1;
}

export class ModuleCache<T = LoadedModule> {
  private readonly lru: LRUCache<number, T & {}>;
  private readonly pins = new Map<number, number>();
  /** Evicted by the LRU while pinned: disposed on the last release. */
  private readonly parked = new Map<number, T>();
  private readonly inflight = new Map<number, Promise<T>>();
  readonly stats: ModuleCacheStats = { loads: {}, hits: {}, evictions: {}, failures: {} };

  constructor(private readonly opts: ModuleCacheOptions<T>) {
    const sizeOf = opts.sizeOf ?? ((m: T) => (m as { bytes: number }).bytes);
    this.lru = new LRUCache<number, T & {}>({
      max: opts.maxModules,
      maxSize: opts.maxBytes,
      sizeCalculation: (m) => Math.max(1, sizeOf(m)),
      // An evicted module that is not pinned is disposed at once; a pinned one waits in
      // `parked` for its last release.
      disposeAfter: (m, group, reason) => {
        if (reason !== 'evict' && reason !== 'delete') return;
        if (reason === 'evict') bump(this.stats.evictions, group);
        if ((this.pins.get(group) ?? 0) > 0) this.parked.set(group, m);
        else this.opts.dispose?.(m, group);
      },
    });
  }

  /** Loads (or finds) a group's module and pins it until `release(group)`. */
  async acquire(group: number): Promise<T> {
    const m = await this.get(group);
    this.pins.set(group, (this.pins.get(group) ?? 0) + 1);
    return m;
  }

  release(group: number): void {
    const n = (this.pins.get(group) ?? 0) - 1;
    if (n > 0) {
      this.pins.set(group, n);
      return;
    }
    this.pins.delete(group);
    const parked = this.parked.get(group);
    if (parked !== undefined) {
      this.parked.delete(group);
      this.opts.dispose?.(parked, group);
    }
  }

  /** Every resident and parked module, disposed (the runner closes). */
  clear(): void {
    this.lru.clear();
    for (const [group, m] of this.parked) this.opts.dispose?.(m, group);
    this.parked.clear();
  }

  private async get(group: number): Promise<T> {
    const cached = this.lru.get(group) ?? this.parked.get(group);
    if (cached !== undefined) {
      bump(this.stats.hits, group);
      if (!this.lru.has(group)) {
        this.parked.delete(group);
        this.lru.set(group, cached as T & {});
      }
      return cached;
    }
    const pending = this.inflight.get(group);
    if (pending) return pending;
    const loading = (async () => {
      try {
        const m = await this.opts.load(group);
        bump(this.stats.loads, group);
        this.lru.set(group, m as T & {});
        return m;
      } catch (err) {
        bump(this.stats.failures, group);
        throw err;
      } finally {
        this.inflight.delete(group);
      }
    })();
    this.inflight.set(group, loading);
    return loading;
  }
}
