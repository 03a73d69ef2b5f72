/**
 * One HTTP request's translation, for every API that translates (/v1 and the compatible APIs):
 * answer all-hit requests from the cache at once; otherwise arm the deadline and the abort on
 * client disconnect, submit and await (STYLE: route handlers only submit and await).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { DecodingOptions } from '../engine/types.ts';
import { XalmaError } from '../errors.ts';
import type { MarkupOptions } from '../languages/index.ts';
import type { Scheduler } from '../scheduler/scheduler.ts';
import type { TranslateService, TranslatedItem } from './translate-service.ts';

export interface TranslationRunDeps {
  service: TranslateService;
  scheduler: Scheduler;
  requestTimeoutMs: number;
}

export interface TranslationAsk {
  /** Checked texts (limits applied by the caller). */
  texts: string[];
  /** undefined: detect per text. */
  source?: string;
  target: string;
  options: DecodingOptions;
  /** Markup and placeholders; undefined: plain text. */
  markup?: MarkupOptions;
  /** Streaming (translate-service.ts TranslateJob.onText). */
  onText?: (index: number, delta: string) => void;
}

export async function runTranslation(request: FastifyRequest, reply: FastifyReply, deps: TranslationRunDeps, ask: TranslationAsk): Promise<TranslatedItem[]> {
  const { service, scheduler, requestTimeoutMs } = deps;
  const lookup = service.lookup(ask);
  if (lookup.misses.length === 0) return lookup.results as TranslatedItem[];

  const requestId = request.id;
  const controller = new AbortController();
  const stop = (reason: XalmaError) => {
    if (controller.signal.aborted) return;
    controller.abort(reason);
    scheduler.abort([requestId], reason);
  };
  const timer = setTimeout(() => stop(new XalmaError('DEADLINE_EXCEEDED', `${requestTimeoutMs} ms`)), requestTimeoutMs);
  // 'close' before the response is written means the client went away: free its rows.
  const onClose = () => {
    if (!reply.raw.writableEnded) {
      request.log.info({ requestId }, 'client closed the request; aborting its work');
      stop(new XalmaError('REQUEST_ABORTED'));
    }
  };
  reply.raw.once('close', onClose);
  try {
    const translations = await service.translate({ ...ask, requestId, deadlineAt: Date.now() + requestTimeoutMs, signal: controller.signal }, lookup);
    request.log.debug({ items: ask.texts.length, groups: [...new Set(translations.map((t) => t.group))] }, 'translated');
    return translations;
  } finally {
    clearTimeout(timer);
  }
}
