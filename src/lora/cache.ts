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

export type ModuleState = 'loading' | 'ready' | 'failed';

export interface ModuleCacheOptions {
  /** Most modules resident at once. */
  maxModules: number;
  /** Most bytes of factors resident at once. */
  maxBytes: number;
  load: (group: number) => Promise<LoadedModule>;
  /** Called when a module leaves memory (after its last pin is released). */
  onEvict?: (group: number) => void;
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
  private readonly states = new Map<number, ModuleState>();
  private readonly lastError = new Map<number, Error>();
  readonly stats: ModuleCacheStats = { loads: {}, hits: {}, evictions: {}, failures: {} };

  constructor(private readonly opts: ModuleCacheOptions) {
    this.lru = new LRUCache<number, LoadedModule>({
      max: opts.maxModules,
      maxSize: opts.maxBytes,
      sizeCalculation: (m) => Math.max(1, m.bytes),
      // disposeAfter: runs once the entry is gone, so `forget` sees the cache without it.
      disposeAfter: (m, group, reason) => {
        if (reason !== 'evict' && reason !== 'delete') return;
        bump(this.stats.evictions, group);
        if ((this.pins.get(group) ?? 0) > 0) this.parked.set(group, m);
        else this.forget(group);
      },
    });
  }

  state(group: number): ModuleState | 'absent' {
    return this.states.get(group) ?? 'absent';
  }

  error(group: number): Error | undefined {
    return this.lastError.get(group);
  }

  resident(): number[] {
    return [...this.lru.keys(), ...this.parked.keys()];
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
    if (this.parked.delete(group)) this.forget(group);
  }

  private forget(group: number): void {
    if (this.lru.has(group)) return;
    this.states.delete(group);
    this.opts.onEvict?.(group);
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
      this.states.set(group, 'loading');
      try {
        const m = await this.opts.load(group);
        bump(this.stats.loads, group);
        this.lastError.delete(group);
        this.states.set(group, 'ready');
        this.lru.set(group, m);
        return m;
      } catch (err) {
        bump(this.stats.failures, group);
        this.states.set(group, 'failed');
        this.lastError.set(group, err as Error);
        throw err;
      } finally {
        this.inflight.delete(group);
      }
    })();
    this.inflight.set(group, loading);
    return loading;
  }
}
