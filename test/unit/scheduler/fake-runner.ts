/**
 * A stand-in for the engine's batch call, for policy tests only: it records every batch and
 * answers after `stepMs` per "token", honouring each row's AbortSignal between steps the way
 * the real engine does. HTTP and e2e tests use the real engine.
 */
import type { DecodingOptions, TranslationItem, TranslationOutput } from '../../../src/engine/types.ts';
import { DEFAULT_DECODING } from '../../../src/engine/types.ts';
import { XalmaError } from '../../../src/errors.ts';

export class FakeRunner {
  readonly batches: TranslationItem[][] = [];
  /** Date.now() of each call (the tests' fake clock). */
  readonly sentAt: number[] = [];
  /** Rows inside the fake engine now, and the most ever. */
  private rows = 0;
  peakRows = 0;
  failGroups = new Set<number>();
  constructor(private readonly stepMs = 1, private readonly steps = 2) {}

  async translateBatch(items: TranslationItem[]): Promise<Array<TranslationOutput | XalmaError>> {
    this.batches.push(items);
    this.sentAt.push(Date.now());
    this.rows += items.length;
    this.peakRows = Math.max(this.peakRows, this.rows);
    for (let s = 0; s < this.steps; s++) {
      if (items.every((i) => i.signal?.aborted)) break;
      await new Promise((r) => setTimeout(r, this.stepMs));
    }
    this.rows -= items.length;
    return items.map((i) => {
      if (this.failGroups.has(i.group)) return new XalmaError('MODULE_UNAVAILABLE', `group ${i.group}`);
      if (i.signal?.aborted) return { text: '', promptTokens: 1, outputTokens: 0, finishReason: 'aborted' as const };
      return { text: `[${i.group}] ${i.text}`, promptTokens: 1, outputTokens: this.steps, finishReason: 'length' as const };
    });
  }
}

export function item(group: number, text = `t${group}`, options: Partial<DecodingOptions> = {}): TranslationItem {
  return { group, sourceName: 'English', targetName: 'German', text, options: { ...DEFAULT_DECODING, ...options } };
}
