/**
 * The DeepL API v2 beside /v1, registered under the prefix /v2, so that DeepL clients (deepl-node
 * with `serverUrl`, Weblate's DeepL backend) can use this server:
 *   POST /v2/translate                 JSON or form, `text` repeated or an array
 *   GET|POST /v2/languages?type=...     source (default) or target
 *   GET|POST /v2/usage                  characters translated and the quota (--character-quota)
 *   GET /v2/glossary-language-pairs     none (Weblate asks before translating)
 * Errors are DeepL's `{ message, detail? }` with its statuses: 400, 403 (key), 404, 413, 429,
 * 456 (quota), 500, 503, 504. The key comes as `Authorization: DeepL-Auth-Key <key>` (or Bearer).
 *
 * DeepL's options, as /v2/translate treats them (README, "DeepL API v2"): split_sentences,
 * preserve_formatting, outline_detection, formality default|prefer_more|prefer_less, context,
 * model_type, show_billed_characters and tag_handling_version are accepted (each text is
 * translated whole, and the model has no formality or context input). tag_handling xml|html
 * translates the text between tags and keeps tags, attributes, comments and the content of
 * ignore_tags (and translate="no", and in html script/style) as they are (languages/markup.ts);
 * splitting_tags and non_splitting_tags are checked and have no effect: every tag already splits
 * the text, so that no tag depends on the model copying it. Without tag_handling, placeholders
 * are kept all the same. formality more|less, glossaries, style rules, translation memories and
 * custom instructions get DeepL's error for an unsupported value. Unknown parameters are ignored,
 * as DeepL does.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { XalmaError } from '../errors.ts';
import type { MarkupOptions, TextFormat } from '../languages/index.ts';
import { ApiKeyRing, installRateLimit, keyFromAuthorization } from './access.ts';
import { CharacterQuota } from './character-quota.ts';
import {
  CompatError,
  acceptFormBodies,
  countCharacters,
  installCompatErrors,
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
import { deeplCode, sourceLanguages, targetLanguages } from './deepl-languages.ts';

/** Kept out of the OpenAPI spec: DeepL's own documentation describes these routes. */
const HIDDEN = { hide: true } as const;

/** Everyone shares one account when the server has no keys. */
const OPEN_ACCOUNT = 'open';

const STATUS_MESSAGES: Readonly<Record<number, string>> = {
  400: 'Bad request',
  403: 'Forbidden',
  404: 'Not found',
  413: 'Request Entity Too Large',
  415: 'Unsupported Media Type',
  429: 'Too many requests',
  456: 'Quota Exceeded',
  500: 'Internal server error',
  503: 'Service unavailable',
  504: 'Gateway timeout',
};

/** Our coded errors in DeepL's statuses. */
function deeplStatus(err: XalmaError): number {
  switch (err.code) {
    case 'API_KEY_INVALID':
      return 403;
    case 'TEXT_TOO_LONG':
    case 'TOO_MANY_ITEMS':
    case 'BODY_TOO_LARGE':
      return 413;
  }
  const s = err.status;
  if ([404, 413, 415, 429, 499, 503, 504].includes(s)) return s;
  return s < 500 ? 400 : 500;
}

export const renderDeepLError: ErrorRenderer = (err) => {
  if (err instanceof CompatError) return { status: err.status, body: { message: err.message, ...(err.detail ? { detail: err.detail } : {}) } };
  const status = deeplStatus(err);
  return { status, body: { message: STATUS_MESSAGES[status] ?? 'Error', detail: err.message } };
};

const unsupportedValue = (param: string, detail?: string) => new CompatError(400, `Value for '${param}' not supported.`, detail);

const ONE_OF: Readonly<Record<string, readonly string[]>> = {
  split_sentences: ['0', '1', 'nonewlines'],
  preserve_formatting: ['0', '1', 'true', 'false'],
  outline_detection: ['0', '1', 'true', 'false'],
  show_billed_characters: ['0', '1', 'true', 'false'],
  tag_handling: ['xml', 'html'],
  tag_handling_version: ['v1', 'v2'],
  model_type: ['quality_optimized', 'prefer_quality_optimized', 'latency_optimized'],
  formality: ['default', 'prefer_more', 'prefer_less', 'more', 'less'],
};

/** Parameters this server has nothing for, with the reason given as the error's detail. */
const UNSUPPORTED: ReadonlyArray<readonly [string, string]> = [
  ['glossary_id', 'this server has no glossaries'],
  ['glossary_ids', 'this server has no glossaries'],
  ['style_id', 'this server has no style rules'],
  ['translation_memory_id', 'this server has no translation memories'],
  ['custom_instructions', 'the model takes no instructions'],
];

/** A parameter's value, or undefined when absent or empty (a form's `formality=`). */
function param(fields: Record<string, unknown>, name: string): string | undefined {
  const v = scalar(fields[name]);
  return v === undefined || v === '' ? undefined : v;
}

/** An element name as DeepL's tag lists hold them. */
const TAG_NAME = /^[A-Za-z_][\w:.-]*$/;

/** A tag list (ignore_tags, splitting_tags, non_splitting_tags): comma-separated, repeated or a JSON array. */
function tagList(fields: Record<string, unknown>, name: string): string[] {
  const value = fields[name];
  if (value === undefined || value === null || value === '') return [];
  const list = stringList(value);
  if (list === null) throw unsupportedValue(name, 'a comma-separated list of tag names, or an array of them');
  const tags = list.flatMap((v) => v.split(',')).map((t) => t.trim()).filter((t) => t !== '');
  const bad = tags.find((t) => !TAG_NAME.test(t));
  if (bad !== undefined) throw unsupportedValue(name, `${JSON.stringify(bad)} is not a tag name`);
  return tags;
}

/** tag_handling as markup options; undefined without it (plain text, placeholders still kept). */
function readMarkup(fields: Record<string, unknown>): MarkupOptions | undefined {
  const ignoreTags = tagList(fields, 'ignore_tags');
  // Checked for their shape only: every tag splits the text already (see the header).
  tagList(fields, 'splitting_tags');
  tagList(fields, 'non_splitting_tags');
  const handling = param(fields, 'tag_handling')?.toLowerCase();
  return handling === undefined ? undefined : { format: handling as TextFormat, ignoreTags };
}

/** Checks every option; throws DeepL's error for the first one this server cannot honour. */
function checkOptions(fields: Record<string, unknown>): void {
  for (const [name, values] of Object.entries(ONE_OF)) {
    const v = param(fields, name);
    if (v !== undefined && !values.includes(v.toLowerCase())) throw unsupportedValue(name);
  }
  const formality = param(fields, 'formality')?.toLowerCase();
  if (formality === 'more' || formality === 'less') {
    throw new CompatError(400, "'formality' is not supported for given 'target_lang'.", 'the model has no formality control; prefer_more and prefer_less fall back to the default');
  }
  for (const [name, why] of UNSUPPORTED) {
    if (fields[name] !== undefined && fields[name] !== '' && !(Array.isArray(fields[name]) && (fields[name] as unknown[]).length === 0)) throw unsupportedValue(name, why);
  }
}

function readTexts(value: unknown, limits: { maxItems: number; maxTextChars: number }): string[] {
  if (value === undefined || (Array.isArray(value) && value.length === 0)) throw new CompatError(400, "Parameter 'text' not specified.");
  const texts = stringList(value);
  if (texts === null) throw new CompatError(400, "Parameter 'text' not specified.", "'text' must be a string or an array of strings");
  if (texts.length > limits.maxItems) throw new CompatError(413, 'Request Entity Too Large', `${texts.length} texts, at most ${limits.maxItems} per request`);
  texts.forEach((t, i) => {
    if (t.length > limits.maxTextChars) throw new CompatError(413, 'Request Entity Too Large', `text ${i} has ${t.length} characters, at most ${limits.maxTextChars}`);
  });
  return texts;
}

export async function deeplRoutes(app: FastifyInstance, opts: CompatRouteOptions): Promise<void> {
  const { config, catalog, model } = opts;
  const keys = new ApiKeyRing(config.apiKeys);
  const quota = new CharacterQuota(config.characterQuota);
  /** Which key the request presented (by index, never the key itself). */
  const identity = new WeakMap<FastifyRequest, string>();
  const account = (request: FastifyRequest) => identity.get(request) ?? OPEN_ACCOUNT;

  await acceptFormBodies(app, config.bodyLimitBytes);
  installCompatErrors(app, renderDeepLError, config.retryAfterSeconds);
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ message: 'Not found', detail: `${request.method} ${request.url.split('?')[0]}` });
  });
  refuseWhileDraining(app, opts.draining);
  if (keys.enabled) {
    app.addHook('onRequest', async (request) => {
      const presented = keyFromAuthorization(request.headers.authorization, ['DeepL-Auth-Key', 'Bearer']);
      if (presented === undefined) throw new CompatError(403, 'Forbidden', 'missing API key: send Authorization: DeepL-Auth-Key <key>');
      const id = keys.identify(presented);
      if (id === undefined) throw new CompatError(403, 'Forbidden', 'unknown API key');
      identity.set(request, id);
    });
  }
  await installRateLimit(app, {
    max: config.rateLimitMax,
    windowMs: config.rateLimitWindowMs,
    hook: 'preParsing',
    identity: (request) => identity.get(request),
    error: (limit) => new CompatError(429, 'Too many requests', `limit ${limit.max} per ${limit.after}`),
  });

  app.post('/translate', { schema: HIDDEN }, async (request: FastifyRequest, reply: FastifyReply) => {
    const fields = requestFields(request);
    const texts = readTexts(fields.text, config);
    const targetField = param(fields, 'target_lang');
    if (targetField === undefined) throw new CompatError(400, "Parameter 'target_lang' not specified.");
    const target = servedLanguage(targetField, catalog);
    if (target === undefined) throw unsupportedValue('target_lang', `${JSON.stringify(targetField)} is not a language of this model; GET /v2/languages?type=target lists them`);
    const sourceField = param(fields, 'source_lang');
    const source = sourceField === undefined ? undefined : servedLanguage(sourceField, catalog);
    if (sourceField !== undefined && source === undefined) {
      throw unsupportedValue('source_lang', `${JSON.stringify(sourceField)} is not a language of this model (omit source_lang to detect it); GET /v2/languages lists them`);
    }
    checkOptions(fields);
    const markup = readMarkup(fields);

    const chars = countCharacters(texts);
    const who = account(request);
    if (!quota.reserve(who, chars)) {
      const { count, limit } = quota.usage(who);
      throw new CompatError(456, 'Quota Exceeded', `${count} of ${limit} characters used; this request has ${chars}`);
    }
    let results;
    try {
      results = await translateTexts(request, reply, opts, { texts, source, target, markup });
    } catch (err) {
      quota.release(who, chars);
      throw err;
    }
    labelModel(reply, model);
    const billed = ['1', 'true'].includes(param(fields, 'show_billed_characters')?.toLowerCase() ?? '');
    return {
      translations: results.map((r, i) => ({
        detected_source_language: deeplCode(r.source),
        text: r.text,
        ...(billed ? { billed_characters: countCharacters([texts[i]]) } : {}),
      })),
    };
  });

  const sources = sourceLanguages(catalog);
  const targets = targetLanguages(catalog);
  app.route({
    method: ['GET', 'POST'],
    url: '/languages',
    schema: HIDDEN,
    handler: async (request) => {
      const type = param(requestFields(request), 'type')?.toLowerCase() ?? 'source';
      if (type === 'source') return sources;
      if (type === 'target') return targets;
      throw unsupportedValue('type', 'use source or target');
    },
  });

  app.route({
    method: ['GET', 'POST'],
    url: '/usage',
    schema: HIDDEN,
    handler: async (request) => {
      const { count, limit } = quota.usage(account(request));
      return { character_count: count, character_limit: limit };
    },
  });

  app.get('/glossary-language-pairs', { schema: HIDDEN }, async () => ({ supported_languages: [] }));
}
