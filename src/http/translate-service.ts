/**
 * One translation request from plan to answer: plan every text (languages), answer identity
 * plans and cache hits directly, split the rest into sentences (languages/segment.ts), admit
 * every sentence row to the scheduler all-or-nothing, run pivot plans hop by hop per sentence
 * (hop 2 gets hop 1's output), reassemble each text around its original whitespace, and fill
 * the cache (per text). Route handlers call this
 * and await; the scheduler owns the queue.
 */
import type { Logger } from 'pino';
import type { DecodingOptions, FinishReason, TranslationOutput } from '../engine/types.ts';
import { XalmaError, isXalmaError } from '../errors.ts';
import {
  joinSegments,
  maxSegmentChars,
  normalizeLanguage,
  planTranslation,
  runHops,
  splitText,
  worstFinishReason,
  type Detector,
  type GroupTable,
  type Plan,
  type Segmented,
} from '../languages/index.ts';
import type { Scheduler } from '../scheduler/scheduler.ts';
import { TranslationCache } from '../scheduler/translation-cache.ts';

export interface TranslateJob {
  /** Unique per HTTP request; the scheduler aborts by it. */
  requestId: string;
  texts: string[];
  source?: string;
  target: string;
  options: DecodingOptions;
  deadlineAt: number;
  /** Aborted on client disconnect or deadline; no further hop is submitted after it. */
  signal: AbortSignal;
}

/** The fields a cache lookup needs. */
export type CacheLookupJob = Pick<TranslateJob, 'texts' | 'source' | 'target' | 'options'>;

export interface CacheLookup {
  keys: string[] | undefined;
  results: Array<TranslatedItem | undefined>;
  /** Indexes of the texts the cache did not answer. */
  misses: number[];
}

export interface TranslatedItem {
  text: string;
  source: { language: string; variant?: string; detected: boolean; confidence?: number; mismatch?: { detected: string } };
  target: { language: string; variant?: string };
  group: number | null;
  pivot: { language: string; group: number } | null;
  finishReason: FinishReason | 'identity';
  outputTokens: number;
  cached: boolean;
}

export interface TranslateServiceDeps {
  modelName: string;
  scheduler: Scheduler;
  cache: TranslationCache<TranslatedItem>;
  detector: Detector;
  groups: GroupTable;
  /** The model context in tokens (manifest dims); sets the longest sentence sent as one row. */
  maxPositions: number;
  /** Overrides the row length derived from maxPositions (tests). */
  maxSegmentChars?: number;
  logger?: Logger;
}

export class TranslateService {
  private readonly maxSegmentChars: number;

  constructor(private readonly deps: TranslateServiceDeps) {
    this.maxSegmentChars = deps.maxSegmentChars ?? maxSegmentChars(deps.maxPositions);
  }

  /**
   * Cache lookups for every text, without planning or detection (both deterministic, so a hit
   * can skip them). The route answers all-hit requests from this alone, before arming any
   * deadline or abort machinery.
   */
  lookup(job: CacheLookupJob): CacheLookup {
    const { cache } = this.deps;
    const keys = cache.enabled && TranslationCache.cacheable(job.options) ? this.cacheKeys(job) : undefined;
    const results: Array<TranslatedItem | undefined> = new Array(job.texts.length);
    const misses: number[] = [];
    for (let i = 0; i < job.texts.length; i++) {
      const hit = keys ? cache.get(keys[i]) : undefined;
      if (hit) results[i] = { ...hit, cached: true };
      else misses.push(i);
    }
    return { keys, results, misses };
  }

  async translate(job: TranslateJob, lookup: CacheLookup = this.lookup(job)): Promise<TranslatedItem[]> {
    const { scheduler, cache } = this.deps;
    const { keys, results, misses } = lookup;
    if (misses.length === 0) return results as TranslatedItem[];

    const plans = new Map<number, Plan>();
    for (const i of misses) plans.set(i, this.plan(job, job.texts[i], i));
    const remember = (i: number, item: TranslatedItem) => {
      results[i] = item;
      if (keys) cache.set(keys[i], item);
    };
    const pending: number[] = [];
    for (const i of misses) {
      const plan = plans.get(i)!;
      if (plan.hops.length === 0) remember(i, describe(plan, job, { text: job.texts[i], outputTokens: 0, finishReason: 'identity' }));
      else pending.push(i);
    }
    if (pending.length === 0) return results as TranslatedItem[];

    // One row per sentence, cut in the source language's rules (the plan knows it, detected or declared).
    const segmented = new Map<number, Segmented>();
    let rows = 0;
    for (const i of pending) {
      const s = splitText(job.texts[i], { locale: plans.get(i)!.source, maxChars: this.maxSegmentChars });
      segmented.set(i, s);
      rows += Math.max(1, s.sentences.length);
    }
    // All-or-nothing admission: a request is refused whole rather than half-queued.
    if (scheduler.room() < rows) {
      throw new XalmaError('QUEUE_FULL', undefined, { queued: scheduler.depth, needed: rows });
    }
    const runs = pending.map((i) =>
      this.runSegmented(job, plans.get(i)!, job.texts[i], segmented.get(i)!).then((out) => remember(i, describe(plans.get(i)!, job, out))),
    );
    try {
      await Promise.all(runs);
    } catch (err) {
      // One failed item fails the request: stop the others from costing compute.
      scheduler.abort([job.requestId], isXalmaError(err) ? err : undefined);
      await Promise.allSettled(runs);
      throw err;
    }
    return results as TranslatedItem[];
  }

  /**
   * Keys from the language fields as normalized (no detection): 'auto' stands for a detected
   * source. A field that does not normalize gets no key; planning then throws its coded error.
   */
  private cacheKeys(job: CacheLookupJob): string[] | undefined {
    let source: string;
    let target: string;
    try {
      source = job.source === undefined ? 'auto' : normalizedKey(job.source);
      target = normalizedKey(job.target);
    } catch {
      return undefined;
    }
    return job.texts.map((text) => TranslationCache.key({ model: this.deps.modelName, source, target, text, options: job.options }));
  }

  private plan(job: TranslateJob, text: string, index: number): Plan {
    try {
      return planTranslation({ source: job.source, target: job.target, text, groups: this.deps.groups, detector: this.deps.detector });
    } catch (err) {
      if (isXalmaError(err) && job.texts.length > 1) {
        throw new XalmaError(err.code, `item ${index}: ${err.message}`, { ...err.details, index }, { cause: err });
      }
      throw err;
    }
  }

  /**
   * Every sentence as its own row (they share batches), put back between the original
   * whitespace. A text with no sentence (empty or whitespace only) goes as it is, as before.
   */
  private async runSegmented(job: TranslateJob, plan: Plan, text: string, segmented: Segmented): Promise<Pick<TranslationOutput, 'text' | 'outputTokens' | 'finishReason'>> {
    if (segmented.sentences.length === 0) return this.run(job, plan, text);
    const outs = await Promise.all(segmented.sentences.map((sentence) => this.run(job, plan, sentence)));
    return {
      text: joinSegments(segmented.separators, outs.map((o) => o.text)),
      outputTokens: outs.reduce((sum, o) => sum + o.outputTokens, 0),
      finishReason: worstFinishReason(outs.map((o) => o.finishReason)),
    };
  }

  /** Hop by hop; hop 2 keeps hop 1's age so it is not queued behind newer work. */
  private run(job: TranslateJob, plan: Plan, text: string): Promise<TranslationOutput> {
    let enqueuedAt: number | undefined;
    return runHops(plan.hops, text, job.options, async (item) => {
      if (job.signal.aborted) throw job.signal.reason;
      const submittedAt = Date.now();
      const out = await this.deps.scheduler.add({
        requestId: job.requestId,
        deadlineAt: job.deadlineAt,
        item,
        ...(enqueuedAt !== undefined ? { continuationOf: { enqueuedAt } } : {}),
      });
      enqueuedAt ??= submittedAt;
      return out;
    });
  }
}

function normalizedKey(field: string): string {
  const n = normalizeLanguage(field);
  return n.variant ? `${n.code}-${n.variant}` : n.code;
}

function describe(plan: Plan, job: TranslateJob, out: { text: string; outputTokens: number; finishReason: FinishReason | 'identity' }): TranslatedItem {
  // plan.detected is also set when a declared source was checked; only auto means "detected".
  const detected = job.source === undefined;
  const confidence = detected ? plan.detected?.confidence : undefined;
  const [first, second] = plan.hops;
  return {
    text: out.text,
    source: {
      language: plan.source,
      ...(plan.sourceVariant ? { variant: plan.sourceVariant } : {}),
      detected,
      ...(confidence !== undefined ? { confidence } : {}),
      ...(plan.mismatch ? { mismatch: { detected: plan.mismatch.detected } } : {}),
    },
    target: { language: plan.target, ...(plan.targetVariant ? { variant: plan.targetVariant } : {}) },
    group: first ? first.group : null,
    pivot: second ? { language: first.to, group: second.group } : null,
    finishReason: out.finishReason,
    outputTokens: out.outputTokens,
    cached: false,
  };
}
