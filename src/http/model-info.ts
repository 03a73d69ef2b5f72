/**
 * Which model answered: every translation response carries it (DESIGN 3: demo outputs are
 * labelled), and GET /v1/model tells it before any translation (the web page's model name and
 * demo banner), also while the model loads: it comes from manifest.json.
 */
import type { FastifyInstance } from 'fastify';
import type { Engine } from '../engine/types.ts';
import { errorResponses } from './errors.ts';

export interface ModelInfo {
  name: string;
  demo: boolean;
  mode: Engine['mode'];
  provider: string;
}

export function modelInfo(engine: Engine): ModelInfo {
  return { name: engine.manifest.name, demo: engine.manifest.demo === true, mode: engine.mode, provider: engine.provider };
}

export const modelInfoSchema = {
  type: 'object',
  required: ['name', 'demo'],
  properties: {
    name: { type: 'string' },
    demo: { type: 'boolean', description: 'true for the embedded demo model, whose outputs are not translations' },
  },
} as const;

export const modelRouteSchema = {
  summary: 'The model this server serves (answers while it loads: read from its manifest)',
  tags: ['translation'],
  response: {
    200: {
      type: 'object',
      required: ['name', 'demo', 'mode'],
      properties: { ...modelInfoSchema.properties, mode: { type: 'string', enum: ['all', 'single', 'merged'] } },
    },
    ...errorResponses,
  },
} as const;

export async function modelRoute(app: FastifyInstance, opts: { model: ModelInfo }): Promise<void> {
  const { name, demo, mode } = opts.model;
  app.get('/v1/model', { schema: modelRouteSchema }, async () => ({ name, demo, mode }));
}
