/**
 * POST /v1/translate. The handler checks limits and resolves options; translation-run.ts arms the
 * deadline and the disconnect abort, then submits and awaits (STYLE: route handlers only submit and await).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isAutoSource } from '../languages/index.ts';
import type { Scheduler } from '../scheduler/scheduler.ts';
import { decodingOptionsSchema, resolveDecoding, type OptionLimits, type RequestOptions } from './decoding-options.ts';
import { errorResponses } from './errors.ts';
import { modelInfoSchema, type ModelInfo } from './model-info.ts';
import { checkTexts, textInputSchema, type TextLimits } from './text-input.ts';
import type { TranslateService, TranslatedItem } from './translate-service.ts';
import { runTranslation } from './translation-run.ts';

interface TranslateBody {
  text: string | string[];
  target: string;
  source?: string;
  options?: RequestOptions;
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
      options: decodingOptionsSchema,
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
    const translations = await runTranslation(request, reply, { service, scheduler, requestTimeoutMs: limits.requestTimeoutMs }, { texts, source, target: body.target, options });
    return respond(translations);
  });
}
