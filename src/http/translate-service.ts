/**
 * One translation request from plan to answer: cut markup and placeholders out of every text
 * (languages/markup.ts) and plan it on its text runs, answer identity plans and cache hits
 * directly, split the runs into sentences (languages/segment.ts), admit
 * every sentence row to the scheduler all-or-nothing, run pivot plans hop by hop per sentence
 * (hop 2 gets hop 1's output), reassemble each text around its original whitespace, and fill
 * the cache (per text). Route handlers call this
 * and await; the scheduler owns the queue.
 */
import type { Logger } from 'pino';
import type { DecodingOptions, FinishReason, TranslationOutput } from '../engine/types.ts';
import { XalmaError, isXalmaError } from '../errors.ts';
import {
  detectionText,
  layoutText,
  markupCacheText,
  maxSegmentChars,
  normalizeLanguage,
  planTranslation,
  runHops,
  splitMarkup,
  worstFinishReason,
  type Detector,
  type GroupTable,
  type MarkupOptions,
  type Piece,
  type Plan,
  type TextLayout,
} from '../languages/index.ts';
import type { Scheduler } from '../scheduler/scheduler.ts';
import type { SharedCache } from '../scheduler/shared-cache.ts';
import { TranslationCache } from '../scheduler/translation-cache.ts';

export interface TranslateJob {
  /** Unique per HTTP request; the scheduler aborts by it. */
  requestId: string;
  texts: string[];
  source?: string;
  target: string;
  options: DecodingOptions;
  /** Markup and placeholders (languages/markup.ts); undefined: plain text. */
  markup?: MarkupOptions;
  deadlineAt: number;
  /** Aborted on client disconnect or deadline; no further hop is submitted after it. */
  signal: AbortSignal;
  /** Streaming: text i's output as it is made, in order (pieces that are final only). */
  onText?: (index: number, delta: string) => void;
}

/** The fields a cache lookup needs. */
export type CacheLookupJob = Pick<TranslateJob, 'texts' | 'source' | 'target' | 'options' | 'markup'>;

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
  /** The cache replicas share (--cache-url), asked after `cache` misses; never fails a request. */
  sharedCache?: SharedCache<TranslatedItem>;
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
    // Keys also when only the shared cache is on (--cache-bytes 0 with --cache-url).
    const keys = (cache.enabled || this.deps.sharedCache) && TranslationCache.cacheable(job.options) ? this.cacheKeys(job) : undefined;
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
    const { scheduler, cache, sharedCache } = this.deps;
    const { keys, results } = lookup;
    const misses = keys && sharedCache ? await this.lookupShared(keys, results, lookup.misses) : lookup.misses;
    if (misses.length === 0) return results as TranslatedItem[];

    const plans = new Map<number, Plan>();
    // Markup and placeholders are cut out first (languages/markup.ts): detection reads the text runs alone.
    const pieces = new Map<number, Piece[]>();
    for (const i of misses) {
      pieces.set(i, splitMarkup(job.texts[i], job.markup));
      plans.set(i, this.plan(job, detectionText(pieces.get(i)!), i));
    }
    const remember = (i: number, item: TranslatedItem) => {
      results[i] = item;
      if (keys) {
        cache.set(keys[i], item);
        sharedCache?.set(keys[i], item);
      }
    };
    const pending: number[] = [];
    for (const i of misses) {
      const plan = plans.get(i)!;
      if (plan.hops.length === 0) remember(i, describe(plan, job, { text: job.texts[i], outputTokens: 0, finishReason: 'identity' }));
      else pending.push(i);
    }
    if (pending.length === 0) return results as TranslatedItem[];

    // One row per sentence of each text run, cut in the source language's rules (the plan knows it, detected or declared).
    const layouts = new Map<number, TextLayout>();
    let rows = 0;
    for (const i of pending) {
      const layout = layoutText(pieces.get(i)!, job.markup?.format ?? 'text', { locale: plans.get(i)!.source, maxChars: this.maxSegmentChars });
      layouts.set(i, layout);
      rows += layout.rows.length;
    }
    // All-or-nothing admission: a request is refused whole rather than half-queued.
    if (scheduler.room() < rows) {
      throw new XalmaError('QUEUE_FULL', undefined, { queued: scheduler.depth, needed: rows });
    }
    const runs = pending.map((i) => {
      const stream = job.onText ? new TextStream(layouts.get(i)!, (delta) => job.onText!(i, delta)) : undefined;
      return this.runLayout(job, plans.get(i)!, layouts.get(i)!, stream).then((out) => remember(i, describe(plans.get(i)!, job, out)));
    });
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
   * The shared cache for the in-process cache's misses (all at once: one round trip of latency);
   * a hit also fills the in-process cache. Returns the indexes still missing.
   */
  private async lookupShared(keys: string[], results: Array<TranslatedItem | undefined>, misses: number[]): Promise<number[]> {
    const found = await Promise.all(misses.map((i) => this.deps.sharedCache!.get(keys[i])));
    const still: number[] = [];
    misses.forEach((i, n) => {
      const hit = found[n];
      if (!hit) return void still.push(i);
      this.deps.cache.set(keys[i], hit);
      results[i] = { ...hit, cached: true };
    });
    return still;
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
    return job.texts.map((text) => TranslationCache.key({ model: this.deps.modelName, source, target, text: markupCacheText(text, job.markup), options: job.options }));
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
   * Every sentence of every text run as its own row (they share batches), put back between the
   * original whitespace, tags and placeholders. A text with nothing to translate (markup,
   * placeholders, digits alone) comes back as it is, without a row: outputTokens 0, eos.
   */
  private async runLayout(job: TranslateJob, plan: Plan, layout: TextLayout, stream?: TextStream): Promise<Pick<TranslationOutput, 'text' | 'outputTokens' | 'finishReason'>> {
    const outs = await Promise.all(
      layout.rows.map(async (row, r) => {
        const out = await this.run(job, plan, row, stream && ((delta) => stream.update(r, delta)));
        stream?.finish(r, out.text);
        return out;
      }),
    );
    return {
      text: layout.assemble(outs.map((o) => o.text)),
      outputTokens: outs.reduce((sum, o) => sum + o.outputTokens, 0),
      finishReason: worstFinishReason(outs.map((o) => o.finishReason)),
    };
  }

  /** Hop by hop; hop 2 keeps hop 1's age so it is not queued behind newer work. Only the last hop streams. */
  private run(job: TranslateJob, plan: Plan, text: string, onText?: (delta: string) => void): Promise<TranslationOutput> {
    let enqueuedAt: number | undefined;
    let hop = 0;
    return runHops(plan.hops, text, job.options, async (item) => {
      if (job.signal.aborted) throw job.signal.reason;
      const submittedAt = Date.now();
      const last = ++hop === plan.hops.length;
      const out = await this.deps.scheduler.add({
        requestId: job.requestId,
        deadlineAt: job.deadlineAt,
        item: last && onText ? { ...item, onText } : item,
        ...(enqueuedAt !== undefined ? { continuationOf: { enqueuedAt } } : {}),
      });
      enqueuedAt ??= submittedAt;
      return out;
    });
  }
}

/** Private-use mark: where the streamed prefix of an assembled text ends. */
const STREAM_MARK = '\uE000';

/**
 * The streamed text of one layout: rows finish in any order, but text goes out in order. Every
 * update assembles the layout with the rows done so far, the first unfinished row's partial
 * text and a mark, and sends what lies before the mark and was not sent yet; so the pieces
 * kept around the rows (whitespace, tags, placeholders) go out as soon as the row before them
 * is done, and the streamed text ends equal to the final one.
 */
class TextStream {
  private readonly partial: string[];
  private readonly done: boolean[];
  private sent = '';

  constructor(
    private readonly layout: TextLayout,
    private readonly emit: (delta: string) => void,
  ) {
    this.partial = layout.rows.map(() => '');
    this.done = layout.rows.map(() => false);
  }

  update(row: number, delta: string): void {
    this.partial[row] += delta;
    this.flush();
  }

  finish(row: number, text: string): void {
    this.partial[row] = text;
    this.done[row] = true;
    this.flush();
  }

  private flush(): void {
    const open = this.done.indexOf(false);
    const outs = this.partial.map((p, r) => (open === -1 || r < open ? p : r === open ? p + STREAM_MARK : ''));
    const assembled = this.layout.assemble(outs);
    const end = open === -1 ? assembled.length : assembled.indexOf(STREAM_MARK);
    if (end < 0) return;
    const prefix = assembled.slice(0, end);
    if (prefix.length > this.sent.length && prefix.startsWith(this.sent)) {
      this.emit(prefix.slice(this.sent.length));
      this.sent = prefix;
    }
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
