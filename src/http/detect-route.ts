/** POST /v1/detect: language identification per text (ISO 639-1 or "und"). */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Detector } from '../languages/index.ts';
import { errorResponses } from './errors.ts';
import { checkTexts, textInputSchema, type TextLimits } from './text-input.ts';

const candidate = {
  type: 'object',
  required: ['language', 'confidence'],
  properties: { language: { type: 'string' }, confidence: { type: 'number' } },
} as const;

export const detectSchema = {
  summary: 'Detect the language of one text or an array of texts',
  tags: ['languages'],
  body: {
    type: 'object',
    required: ['text'],
    additionalProperties: false,
    properties: { text: textInputSchema },
  },
  response: {
    200: {
      type: 'object',
      required: ['detections'],
      properties: {
        detections: {
          type: 'array',
          items: {
            type: 'object',
            required: ['language', 'confidence', 'candidates'],
            properties: {
              language: { type: 'string', description: 'ISO 639-1 code, or "und" when undetermined' },
              confidence: { type: 'number' },
              candidates: { type: 'array', items: candidate },
            },
          },
        },
      },
    },
    ...errorResponses,
  },
} as const;

export async function detectRoute(app: FastifyInstance, opts: { detector: Detector; limits: TextLimits }): Promise<void> {
  app.post('/v1/detect', { schema: detectSchema }, async (request: FastifyRequest<{ Body: { text: string | string[] } }>) => {
    const texts = checkTexts(request.body.text, opts.limits);
    return { detections: texts.map((t) => opts.detector.detect(t)) };
  });
}
