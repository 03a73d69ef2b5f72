/**
 * The LoRA module cache: owns which group modules are resident in memory. A byte- and
 * count-bounded LRU (lru-cache) of loaded modules with pinning: a module acquired for a batch
 * is never freed while in use; if the LRU evicts it meanwhile, it is parked until released.
 * Loading goes through `load` (disk -> memory); binding to sessions is the runners' business
 * (vLLM's split between the adapter LRU and `set_lora(slot, ...)`).
 *
 * A load that fails is not cached: the group's requests get the coded error, and the next
 * request for that group tries again (a module fixed on disk comes back without a restart).
 */
import { LRUCache } from 'lru-cache';
import type { LoadedModule } from './module-file.ts';

export interface ModuleCacheOptions {
  /** Most modules resident at once. */
  maxModules: number;
  /** Most bytes of factors resident at once. */
  maxBytes: number;
  load: (group: number) => Promise<LoadedModule>;
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

export class ModuleCache {
  private readonly lru: LRUCache<number, LoadedModule>;
  private readonly pins = new Map<number, number>();
  /** Evicted by the LRU while pinned: freed on the last release. */
  private readonly parked = new Map<number, LoadedModule>();
  private readonly inflight = new Map<number, Promise<LoadedModule>>();
  readonly stats: ModuleCacheStats = { loads: {}, hits: {}, evictions: {}, failures: {} };

  constructor(private readonly opts: ModuleCacheOptions) {
    this.lru = new LRUCache<number, LoadedModule>({
      max: opts.maxModules,
      maxSize: opts.maxBytes,
      sizeCalculation: (m) => Math.max(1, m.bytes),
      // An evicted module that is not pinned is simply dropped (the garbage collector frees it);
      // a pinned one waits in `parked` for its last release.
      disposeAfter: (m, group, reason) => {
        if (reason !== 'evict' && reason !== 'delete') return;
        bump(this.stats.evictions, group);
        if ((this.pins.get(group) ?? 0) > 0) this.parked.set(group, m);
      },
    });
  }

  /** Loads (or finds) a group's module and pins it until `release(group)`. */
  async acquire(group: number): Promise<LoadedModule> {
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
    this.parked.delete(group);
  }

  private async get(group: number): Promise<LoadedModule> {
    const cached = this.lru.get(group) ?? this.parked.get(group);
    if (cached) {
      bump(this.stats.hits, group);
      if (!this.lru.has(group)) {
        this.parked.delete(group);
        this.lru.set(group, cached);
      }
      return cached;
    }
    const pending = this.inflight.get(group);
    if (pending) return pending;
    const loading = (async () => {
      try {
        const m = await this.opts.load(group);
        bump(this.stats.loads, group);
        this.lru.set(group, m);
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
