/**
 * What the LibreTranslate- and DeepL-compatible APIs share: their options, form bodies, errors
 * in the foreign API's own shape, field readers for JSON and form values, and the translation of
 * a list of texts through the same service as /v1.
 *
 * Texts that need no model call are answered here: an empty text comes back empty, and, when the
 * source is to be detected, a text without language (digits, punctuation, URLs, placeholders
 * alone: the detector's `und`, read on the text runs without markup) comes back unchanged. /v1
 * answers such a text with 422 SOURCE_UNDETECTED; clients of these APIs send whole batches of UI
 * strings (Weblate), where one "100%" must not fail the rest.
 */
import formbody from '@fastify/formbody';
import multipart from '@fastify/multipart';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config.ts';
import { XalmaError, errorSpec } from '../errors.ts';
import { UNDETERMINED, detectionText, normalizeLanguage, splitMarkup, type Detector, type MarkupOptions } from '../languages/index.ts';
import type { Scheduler } from '../scheduler/scheduler.ts';
import { resolveDecoding } from './decoding-options.ts';
import { toXalmaError } from './errors.ts';
import type { describeLanguages } from './languages-route.ts';
import type { ModelInfo } from './model-info.ts';
import type { TranslateService } from './translate-service.ts';
import { runTranslation } from './translation-run.ts';

export type LanguageCatalog = ReturnType<typeof describeLanguages>;

export interface CompatRouteOptions {
  service: TranslateService;
  scheduler: Scheduler;
  detector: Detector;
  catalog: LanguageCatalog;
  model: ModelInfo;
  config: Config;
  /** The server is draining: new work is refused (503) in the API's own shape. */
  draining: () => boolean;
}

/** An error already in the foreign API's terms: its status, its message, and our detail. */
export class CompatError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'CompatError';
  }
}

/** How an API renders an error: a CompatError as it is, a coded error of ours mapped to its statuses. */
export type ErrorRenderer = (err: CompatError | XalmaError) => { status: number; body: unknown };

/**
 * The scope's error handler: anything thrown (ours, fastify's, the rate limiter's) is rendered by
 * the API; logged as in http/errors.ts (5xx as errors unless the table says they are expected).
 */
export function installCompatErrors(scope: FastifyInstance, render: ErrorRenderer, retryAfterSeconds: number): void {
  scope.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const known = err instanceof CompatError ? err : toXalmaError(fromPluginError(err));
    const { status, body } = render(known);
    if (known instanceof XalmaError) {
      if (errorSpec(known.code).retryable) reply.header('retry-after', String(retryAfterSeconds));
      if (known.status >= 500 && errorSpec(known.code).log !== false) request.log.error({ err, code: known.code }, 'request failed');
      else request.log.info({ code: known.code, status }, known.message);
    } else {
      request.log.info({ status }, known.detail ? `${known.message} (${known.detail})` : known.message);
    }
    return reply.code(status).send(body);
  });
}

/** A file part in a multipart body: these APIs take text fields only (LibreTranslate's /translate_file is not served). */
function fromPluginError(err: unknown): unknown {
  if ((err as Partial<FastifyError>).code === 'FST_FILES_LIMIT') return new XalmaError('INVALID_REQUEST', 'file parts are not accepted; send the text as a field');
  return err;
}

/**
 * Form bodies, in this scope only (/v1 stays JSON-only): application/x-www-form-urlencoded, where
 * a repeated field becomes an array (DeepL's `text=a&text=b`), and the text fields of
 * multipart/form-data (LibreTranslate's own web page posts FormData); file parts are refused.
 */
export async function acceptFormBodies(scope: FastifyInstance, bodyLimit: number): Promise<void> {
  await scope.register(formbody, { bodyLimit });
  await scope.register(multipart, { attachFieldsToBody: 'keyValues', limits: { files: 0, fieldSize: bodyLimit, fields: 1000 } });
}

/** Refuses new work while the server drains, before the body is read. */
export function refuseWhileDraining(scope: FastifyInstance, draining: () => boolean): void {
  scope.addHook('onRequest', async () => {
    if (draining()) throw new XalmaError('SHUTTING_DOWN');
  });
}

/** Says which model answered (DESIGN 3), in headers: the foreign response bodies stay as their clients parse them. */
export function labelModel(reply: FastifyReply, model: ModelInfo): void {
  reply.header('x-xalma-model', model.name);
  if (model.demo) reply.header('x-xalma-demo', 'true');
}

/** The request's fields: the query string, then the body over it (JSON object, form or multipart). */
export function requestFields(request: FastifyRequest): Record<string, unknown> {
  const query = (request.query ?? {}) as Record<string, unknown>;
  const body = request.body;
  if (body === undefined || body === null) return { ...query };
  if (typeof body !== 'object' || Array.isArray(body) || Buffer.isBuffer(body)) throw new CompatError(400, 'Invalid JSON format', 'the body must be a JSON object or a form');
  return { ...query, ...(body as Record<string, unknown>) };
}

/** Whether the body came as a form (urlencoded or multipart), where values are strings. */
export function isFormBody(request: FastifyRequest): boolean {
  const type = request.headers['content-type'] ?? '';
  return /^(application\/x-www-form-urlencoded|multipart\/form-data)\b/i.test(type);
}

/** A single value: a string as is, a number or boolean as its string; a repeated form field gives its first value. */
export function scalar(value: unknown): string | undefined {
  if (Array.isArray(value)) return value.length > 0 ? scalar(value[0]) : undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

/** A list of strings from one string or an array; null when any element is not a string. */
export function stringList(value: unknown): string[] | null {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
  return null;
}

/** Canonical code of a language field when this model serves it, else undefined. */
export function servedLanguage(field: string, catalog: LanguageCatalog): string | undefined {
  let code: string;
  try {
    code = normalizeLanguage(field).code;
  } catch {
    return undefined;
  }
  return catalog.languages.some((l) => l.code === code) ? code : undefined;
}

/** Characters as DeepL bills them: Unicode code points, not UTF-16 units. */
export function countCharacters(texts: readonly string[]): number {
  let n = 0;
  for (const t of texts) {
    for (let i = 0; i < t.length; i++) {
      const c = t.charCodeAt(i);
      if (c < 0xdc00 || c > 0xdfff) n++; // a low surrogate completes a pair already counted
    }
  }
  return n;
}

export interface CompatTranslation {
  text: string;
  /** Canonical code of the source used (detected or given); 'en' for texts without language. */
  source: string;
  detected: boolean;
  /** Detection confidence in [0, 1]; 0 for texts without language. */
  confidence: number;
}

/**
 * Translates texts (limits already checked by the API) with the server's default decoding;
 * `source` undefined detects per text. Texts without a model call are answered as the header says.
 */
export async function translateTexts(
  request: FastifyRequest,
  reply: FastifyReply,
  opts: CompatRouteOptions,
  ask: { texts: string[]; source?: string; target: string; markup?: MarkupOptions },
): Promise<CompatTranslation[]> {
  const { config } = opts;
  const detect = ask.source === undefined;
  const out: CompatTranslation[] = new Array(ask.texts.length);
  const pending: number[] = [];
  ask.texts.forEach((text, i) => {
    if (text.trim() === '') out[i] = { text: '', source: ask.source ?? 'en', detected: detect, confidence: 0 };
    // Detection reads the text runs alone: markup and placeholders say nothing about the language.
    else if (detect && opts.detector.detect(detectionText(splitMarkup(text, ask.markup))).language === UNDETERMINED) out[i] = { text, source: 'en', detected: true, confidence: 0 };
    else pending.push(i);
  });
  if (pending.length === 0) return out;
  // The server's defaults, as /v1 without options: the same cache entries serve both.
  const options = resolveDecoding(undefined, config);
  const items = await runTranslation(request, reply, { service: opts.service, scheduler: opts.scheduler, requestTimeoutMs: config.requestTimeoutMs }, {
    texts: pending.map((i) => ask.texts[i]),
    source: ask.source,
    target: ask.target,
    options,
    markup: ask.markup,
  });
  items.forEach((item, k) => {
    out[pending[k]] = { text: item.text, source: item.source.language, detected: item.source.detected, confidence: item.source.confidence ?? (detect ? 0 : 1) };
  });
  return out;
}
