/**
 * POST /v1/translate. The handler checks limits and resolves options; translation-run.ts arms the
 * deadline and the disconnect abort, then submits and awaits (STYLE: route handlers only submit and await).
 * `format` html|xml translates the text between tags (languages/markup.ts); placeholders are kept in every format.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TEXT_FORMATS, isAutoSource, type TextFormat } from '../languages/index.ts';
import type { Scheduler } from '../scheduler/scheduler.ts';
import { decodingOptionsSchema, resolveDecoding, type OptionLimits, type RequestOptions } from './decoding-options.ts';
import { errorResponses } from './errors.ts';
import { modelInfoSchema, type ModelInfo } from './model-info.ts';
import { checkTexts, textInputSchema, type TextLimits } from './text-input.ts';
import type { TranslateService, TranslatedItem } from './translate-service.ts';
import { streamTranslation } from './sse.ts';
import { runTranslation } from './translation-run.ts';

interface TranslateBody {
  text: string | string[];
  target: string;
  source?: string;
  format?: TextFormat;
  ignoreTags?: string[];
  options?: RequestOptions;
  stream?: boolean;
}

export interface TranslateRouteOptions {
  service: TranslateService;
  scheduler: Scheduler;
  model: ModelInfo;
  limits: TextLimits & OptionLimits & { requestTimeoutMs: number };
}

const languageField = { type: 'string', minLength: 1, maxLength: 64 } as const;

const translationSchema = {
  type: 'object',
  required: ['text', 'source', 'target', 'group', 'pivot', 'finishReason', 'outputTokens', 'cached'],
  properties: {
    text: { type: 'string', description: 'The translation (from a demo model: not a real translation)' },
    source: {
      type: 'object',
      required: ['language', 'detected'],
      properties: {
        language: { type: 'string', description: 'ISO 639-1 code used as the source' },
        variant: { type: 'string' },
        detected: { type: 'boolean', description: 'true when the source was detected (source omitted or "auto")' },
        confidence: { type: 'number', description: 'Detection confidence, when detected' },
        mismatch: {
          type: 'object',
          description: 'Present when a given source disagrees with what the text looks like',
          properties: { detected: { type: 'string' } },
        },
      },
    },
    target: { type: 'object', required: ['language'], properties: { language: { type: 'string' }, variant: { type: 'string' } } },
    group: { type: ['integer', 'null'], description: 'Language group whose module served the (first) hop; null when source = target' },
    pivot: {
      type: ['object', 'null'],
      description: 'Set when the pair is served through a pivot language (two hops)',
      properties: { language: { type: 'string' }, group: { type: 'integer' } },
    },
    finishReason: {
      type: 'string',
      enum: ['eos', 'length', 'context', 'identity'],
      description:
        'The worst over the sentences of the text: eos (complete), length (a sentence reached maxNewTokens), ' +
        'context (a sentence filled the model context before maxNewTokens: the output is cut), identity (source = target, text returned as is)',
    },
    outputTokens: { type: 'integer' },
    cached: { type: 'boolean' },
  },
} as const;

export const translateSchema = {
  summary: 'Translate one text or an array of texts',
  tags: ['translation'],
  body: {
    type: 'object',
    required: ['text', 'target'],
    additionalProperties: false,
    properties: {
      text: textInputSchema,
      target: { ...languageField, description: 'Target language: ISO 639-1/639-3 code or English name' },
      source: { ...languageField, description: 'Source language, or "auto" (default) to detect it per text' },
      format: {
        type: 'string',
        enum: TEXT_FORMATS,
        default: 'text',
        description:
          'text (default), html or xml. In html/xml only the text between tags is translated: tags, attributes, comments, ' +
          'ignoreTags content, translate="no" elements (and script/style in html) are kept byte for byte. In every format, ' +
          'placeholders ({name}, {{var}}, %s, %1$s, %(name)s, ICU plural/select syntax, <x id=".."/>) are kept and the text ' +
          'runs between them are translated one by one',
      },
      ignoreTags: {
        type: 'array',
        maxItems: 64,
        items: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_:.-]*$', maxLength: 64 },
        description: 'html/xml: elements whose content is kept untranslated (as DeepL ignore_tags)',
      },
      options: decodingOptionsSchema,
      stream: {
        type: 'boolean',
        default: false,
        description:
          'Server-sent events instead of one JSON body: `delta` events {index, text} with each text\'s output as it is made ' +
          '(in order; append), then one `done` event with the same fields as the JSON response, or an `error` event ' +
          '{error} when the request fails after the stream began. Closing the connection stops the request\'s rows.',
      },
    },
  },
  response: {
    200: {
      type: 'object',
      required: ['model', 'mode', 'translations'],
      properties: {
        model: modelInfoSchema,
        mode: { type: 'string', enum: ['all', 'single', 'merged'] },
        translations: { type: 'array', items: translationSchema },
      },
    },
    ...errorResponses,
  },
} as const;

export async function translateRoute(app: FastifyInstance, opts: TranslateRouteOptions): Promise<void> {
  const { service, scheduler, model, limits } = opts;
  const modelField = { name: model.name, demo: model.demo };
  const respond = (translations: TranslatedItem[]) => ({ model: modelField, mode: model.mode, translations });
  app.post('/v1/translate', { schema: translateSchema }, async (request: FastifyRequest<{ Body: TranslateBody }>, reply: FastifyReply) => {
    const body = request.body;
    const texts = checkTexts(body.text, limits);
    const options = resolveDecoding(body.options, limits);
    const source = isAutoSource(body.source) ? undefined : body.source;
    const markup = { format: body.format ?? 'text', ignoreTags: body.ignoreTags ?? [] };
    const deps = { service, scheduler, requestTimeoutMs: limits.requestTimeoutMs };
    const ask = { texts, source, target: body.target, options, markup };
    if (body.stream) return streamTranslation(request, reply, deps, ask, respond);
    return respond(await runTranslation(request, reply, deps, ask));
  });
}
