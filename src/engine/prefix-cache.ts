/**
 * The prompt-head cache: the keys and values of the part of the X-ALMA prompt that every text
 * of a language pair shares (`<s>[INST] Translate this from German to English:\nGerman:`), per
 * module, so that a prompt whose head is cached is prefilled from there on. The head is about a
 * third of a sentence's prompt, and prefill is most of a short translation's cost on a CPU
 * (README, Benchmarks).
 *
 * Exact by construction: an entry is keyed by the module and the head's token ids, and causal
 * attention makes a position's keys and values depend on the tokens before it only. (Measured:
 * the logits of a prompt prefilled after a cached head equal those of one whole prefill bit for
 * bit, in merged and all modes; test/unit/engine/prefix-cache.test.ts.) Entries are copies, LRU
 * within a byte budget.
 */
import { LRUCache } from 'lru-cache';

export interface PrefixEntry {
  /** Positions held. */
  len: number;
  /** Per KV buffer (2 per layer), [kvHeads, len, headDim]: KvCache.readRow's layout. */
  rows: Float32Array[];
}

export interface PrefixStats {
  /** Prompts that started from a cached head. */
  hits: number;
  /** Prompt tokens those hits did not recompute. */
  tokens: number;
}

const bytesOf = (e: PrefixEntry) => e.rows.reduce((n, r) => n + r.byteLength, 0);

export class PrefixCache {
  private readonly entries: LRUCache<string, PrefixEntry>;
  readonly stats: PrefixStats = { hits: 0, tokens: 0 };

  constructor(maxBytes: number) {
    this.entries = new LRUCache({ maxSize: maxBytes, sizeCalculation: (e) => Math.max(1, bytesOf(e)) });
  }

  static key(module: number, promptIds: readonly number[], len: number): string {
    return `${module}:${promptIds.slice(0, len).join(',')}`;
  }

  get(key: string): PrefixEntry | undefined {
    return this.entries.get(key);
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** Keeps an entry unless it alone is over the budget. */
  set(key: string, entry: PrefixEntry): void {
    if (bytesOf(entry) <= this.entries.maxSize) this.entries.set(key, entry);
  }

  get size(): number {
    return this.entries.size;
  }

  get bytes(): number {
    return this.entries.calculatedSize;
  }
}

/** Longest common prefix of two id lists. */
export function commonPrefix(a: readonly number[], b: readonly number[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}
