/** GET /health (the process answers) and GET /ready (model loaded, engine warm, not draining). */
import type { FastifyInstance } from 'fastify';
import { XalmaError } from '../errors.ts';
import { errorResponses } from './errors.ts';
import type { Lifecycle } from './lifecycle.ts';
import { modelInfoSchema, type ModelInfo } from './model-info.ts';

export async function healthRoutes(app: FastifyInstance, opts: { lifecycle: Lifecycle; model: ModelInfo }): Promise<void> {
  app.get('/health', {
    schema: {
      summary: 'Liveness: the process answers',
      tags: ['operations'],
      response: { 200: { type: 'object', required: ['status'], properties: { status: { type: 'string', enum: ['ok'] } } } },
    },
  }, async () => ({ status: 'ok' }));

  app.get('/ready', {
    schema: {
      summary: 'Readiness: the model is loaded and the engine warm',
      tags: ['operations'],
      response: {
        200: {
          type: 'object',
          required: ['status', 'model', 'mode', 'provider'],
          properties: { status: { type: 'string', enum: ['ready'] }, model: modelInfoSchema, mode: { type: 'string' }, provider: { type: 'string' } },
        },
        ...errorResponses,
      },
    },
  }, async () => {
    const state = opts.lifecycle.state;
    if (state === 'starting') throw new XalmaError('NOT_READY');
    if (state === 'draining') throw new XalmaError('SHUTTING_DOWN');
    const { name, demo, mode, provider } = opts.model;
    return { status: 'ready', model: { name, demo }, mode, provider };
  });
}
