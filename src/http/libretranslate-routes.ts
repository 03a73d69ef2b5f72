/**
 * The LibreTranslate API beside /v1, so that LibreTranslate clients (the `libretranslate` npm
 * package, Weblate's LibreTranslate backend, browser extensions) can use this server:
 *   POST /translate          JSON, form or multipart; `q` a string or an array
 *   POST /detect             `[{ language, confidence }]`, confidence 0-100
 *   GET /languages           `[{ code, name, targets }]`
 *   GET /frontend/settings   what LibreTranslate's web page reads
 * Errors are LibreTranslate's `{ "error": "<message>" }` with its statuses and messages: 400
 * (invalid request, unsupported language or format), 403 (unknown key), 429 ("Slowdown: ..."),
 * 500. With API keys configured, /translate and /detect need one, as `api_key` (what
 * LibreTranslate reads) or `apiKey` (what the npm client sends); the listings stay open, as in
 * LibreTranslate.
 *
 * `format: "html"` translates the text nodes and keeps tags, attributes, comments, script/style
 * and `translate="no"` content as they are (languages/markup.ts); with `format: "text"` (the
 * default) placeholders (`{name}`, `%s`, ICU plurals) are kept all the same. Another format gets
 * LibreTranslate's "<format> format is not supported". `alternatives` is accepted and answered
 * with none: the engine returns one hypothesis.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { UNDETERMINED, type Detector } from '../languages/index.ts';
import { ApiKeyRing, installRateLimit } from './access.ts';
import {
  CompatError,
  acceptFormBodies,
  installCompatErrors,
  isFormBody,
  labelModel,
  refuseWhileDraining,
  requestFields,
  scalar,
  servedLanguage,
  stringList,
  translateTexts,
  type CompatRouteOptions,
  type ErrorRenderer,
} from './compat-common.ts';

/** Kept out of the OpenAPI spec: LibreTranslate's own documentation describes these routes. */
const HIDDEN = { hide: true } as const;

/** LibreTranslate's answer for a text it cannot place: English at confidence 0. */
const NO_LANGUAGE = { confidence: 0, language: 'en' };

/** LibreTranslate's frontendTimeout default (ms), reported by /frontend/settings. */
const FRONTEND_TIMEOUT_MS = 500;

export const renderLibreTranslateError: ErrorRenderer = (err) => {
  if (err instanceof CompatError) return { status: err.status, body: { error: err.message } };
  if (err.code === 'API_KEY_INVALID') return { status: 403, body: { error: err.message } };
  // Load: LibreTranslate's clients back off on 429 "Slowdown".
  if (err.code === 'RATE_LIMITED' || err.code === 'QUEUE_FULL') return { status: 429, body: { error: `Slowdown: ${err.message}` } };
  if (err.status < 500) return { status: 400, body: { error: err.message } };
  return { status: 500, body: { error: `Cannot translate text: ${err.message}` } };
};

const missing = (name: string) => new CompatError(400, `Invalid request: missing ${name} parameter`);
const overLimit = (size: number, limit: number) => new CompatError(400, `Invalid request: request (${size}) exceeds text limit (${limit})`);

/** `q` as texts, with LibreTranslate's limit messages; `batch` when it came as an array. */
function readQ(value: unknown, limits: { maxItems: number; maxTextChars: number }, form: boolean): { texts: string[]; batch: boolean } {
  if (value === undefined || value === null || value === '' || (Array.isArray(value) && value.length === 0)) throw missing('q');
  const list = stringList(value);
  if (list === null) throw new CompatError(400, 'Invalid request: q must be a string or an array of strings');
  if (list.length > limits.maxItems) throw overLimit(list.length, limits.maxItems);
  // As LibreTranslate: form bodies get Unix line ends, so the character limit counts the same text.
  const texts = form ? list.map((t) => t.replace(/\r\n?/g, '\n')) : list;
  for (const t of texts) if (t.length > limits.maxTextChars) throw overLimit(t.length, limits.maxTextChars);
  return { texts, batch: Array.isArray(value) };
}

const percent = (confidence: number) => Math.round(confidence * 1000) / 10;

/**
 * LibreTranslate's detection of a batch: one list for all texts, each language's confidence
 * averaged over the texts that name it, ranked by that average weighted by the length of those texts.
 */
export function detectLanguages(detector: Detector, texts: readonly string[]): Array<{ confidence: number; language: string }> {
  const byLanguage = new Map<string, { sum: number; n: number; length: number }>();
  let total = 0;
  for (const text of texts) {
    const d = detector.detect(text);
    if (d.language === UNDETERMINED) continue;
    total += text.length;
    for (const c of [{ language: d.language, confidence: d.confidence }, ...d.candidates]) {
      const entry = byLanguage.get(c.language) ?? { sum: 0, n: 0, length: 0 };
      entry.sum += c.confidence;
      entry.n += 1;
      entry.length += text.length;
      byLanguage.set(c.language, entry);
    }
  }
  if (byLanguage.size === 0) return [NO_LANGUAGE];
  return [...byLanguage]
    .map(([language, e]) => ({ language, average: e.sum / e.n, weight: ((e.sum / e.n) * e.length) / total }))
    .sort((a, b) => b.weight - a.weight)
    .map((e) => ({ confidence: percent(e.average), language: e.language }));
}

export async function libreTranslateRoutes(app: FastifyInstance, opts: CompatRouteOptions): Promise<void> {
  const { config, catalog, model, detector } = opts;

  await acceptFormBodies(app, config.bodyLimitBytes);
  installCompatErrors(app, renderLibreTranslateError, config.retryAfterSeconds);
  refuseWhileDraining(app, opts.draining);

  const codes = catalog.languages.map((l) => l.code);
  const languages = catalog.languages.map((l) => ({ code: l.code, name: l.name, targets: codes.filter((c) => c !== l.code) }));
  app.get('/languages', { schema: HIDDEN }, async () => languages);

  const english = catalog.languages.find((l) => l.code === 'en') ?? catalog.languages[0];
  const settings = {
    charLimit: config.maxTextChars,
    frontendTimeout: FRONTEND_TIMEOUT_MS,
    apiKeys: config.apiKeys.length > 0,
    keyRequired: config.apiKeys.length > 0,
    suggestions: false,
    filesTranslation: false,
    supportedFilesFormat: [],
    language: { source: { code: 'auto', name: 'Auto Detect' }, target: { code: english.code, name: english.name } },
  };
  app.get('/frontend/settings', { schema: HIDDEN }, async () => settings);

  // /translate and /detect: the key (when keys are configured) and the rate limit, after the body is read.
  await app.register(async (guarded) => {
    const keys = new ApiKeyRing(config.apiKeys);
    const identity = new WeakMap<FastifyRequest, string>();
    if (keys.enabled) {
      // preValidation: after the body (and @fastify/multipart's fields) is parsed.
      guarded.addHook('preValidation', async (request) => {
        const fields = requestFields(request);
        const presented = scalar(fields.api_key) || scalar(fields.apiKey);
        if (!presented) throw new CompatError(400, 'Please contact the server operator to get an API key');
        const id = keys.identify(presented);
        if (id === undefined) throw new CompatError(403, 'Invalid API key');
        identity.set(request, id);
      });
    }
    await installRateLimit(guarded, {
      max: config.rateLimitMax,
      windowMs: config.rateLimitWindowMs,
      hook: 'preHandler',
      identity: (request) => identity.get(request),
      error: (limit) => new CompatError(429, `Slowdown: ${limit.max} per ${limit.after}`),
    });

    guarded.post('/translate', { schema: HIDDEN }, async (request: FastifyRequest, reply: FastifyReply) => {
      const fields = requestFields(request);
      const { texts, batch } = readQ(fields.q, config, isFormBody(request));
      const sourceField = scalar(fields.source);
      if (!sourceField) throw missing('source');
      const targetField = scalar(fields.target);
      if (!targetField) throw missing('target');
      const auto = sourceField.trim().toLowerCase() === 'auto';
      const source = auto ? undefined : servedLanguage(sourceField, catalog);
      if (!auto && source === undefined) throw new CompatError(400, `${sourceField} is not supported`);
      const target = servedLanguage(targetField, catalog);
      if (target === undefined) throw new CompatError(400, `${targetField} is not supported`);
      const alternatives = Number(scalar(fields.alternatives) ?? 0);
      if (!Number.isInteger(alternatives)) throw new CompatError(400, 'Invalid request: alternatives parameter is not a number');
      const format = scalar(fields.format) || 'text';
      if (format !== 'text' && format !== 'html') throw new CompatError(400, `${format} format is not supported`);

      const results = await translateTexts(request, reply, opts, { texts, source, target, markup: { format } });
      labelModel(reply, model);
      const translated = results.map((r) => r.text);
      const detected = results.map((r) => (r.confidence > 0 ? { confidence: percent(r.confidence), language: r.source } : NO_LANGUAGE));
      const none = results.map((): string[] => []);
      return {
        translatedText: batch ? translated : translated[0],
        ...(auto ? { detectedLanguage: batch ? detected : detected[0] } : {}),
        ...(alternatives > 0 ? { alternatives: batch ? none : none[0] } : {}),
      };
    });

    guarded.post('/detect', { schema: HIDDEN }, async (request: FastifyRequest) => {
      const { texts } = readQ(requestFields(request).q, config, isFormBody(request));
      return detectLanguages(detector, texts);
    });
  });
}
