/**
 * GET /health (the process can serve: 200 from the moment it listens, also while loading; 503
 * once the engine has failed for good, so that an orchestrator restarts the process) and GET /ready (model loaded, engine warm, not draining,
 * no engine worker being replaced). Two owners are read, never written: the lifecycle (start-up
 * and draining, moved by startServer) and the engine's health (its supervisor).
 */
import type { FastifyInstance } from 'fastify';
import type { Engine } from '../engine/types.ts';
import { XalmaError } from '../errors.ts';
import { errorResponses } from './errors.ts';
import type { Lifecycle } from './lifecycle.ts';
import { modelInfoSchema, type ModelInfo } from './model-info.ts';

export interface HealthRoutesOptions {
  lifecycle: Lifecycle;
  model: ModelInfo;
  engine: Pick<Engine, 'health'>;
}

export async function healthRoutes(app: FastifyInstance, opts: HealthRoutesOptions): Promise<void> {
  app.get('/health', {
    schema: {
      summary: 'Liveness: the process answers and its engine has not failed for good (503 ENGINE_FAILED: restart the process)',
      tags: ['operations'],
      response: { 200: { type: 'object', required: ['status'], properties: { status: { type: 'string', enum: ['ok'] } } }, ...errorResponses },
    },
  }, async () => {
    const engine = opts.engine.health();
    if (engine.state === 'failed') throw new XalmaError('ENGINE_FAILED', engine.lastFailure, { restarts: engine.restarts });
    return { status: 'ok' };
  });

  app.get('/ready', {
    schema: {
      summary: 'Readiness: the detector and the model are loaded and the engine warm (503 NOT_READY lists what is still loading in details.loading)',
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
    if (state === 'starting') {
      // Loaded but not yet warm: the engine's first generation is still running.
      const loading = opts.lifecycle.loaded ? ['warmup'] : opts.lifecycle.loading;
      throw new XalmaError('NOT_READY', `still loading: ${loading.join(', ')}`, { loading });
    }
    if (state === 'draining') throw new XalmaError('SHUTTING_DOWN');
    const engine = opts.engine.health();
    if (engine.state === 'restarting') throw new XalmaError('NOT_READY', 'a new engine worker is loading and warming up', { restarts: engine.restarts });
    if (engine.state === 'failed') throw new XalmaError('ENGINE_FAILED', engine.lastFailure, { restarts: engine.restarts });
    const { name, demo, mode, provider } = opts.model;
    return { status: 'ready', model: { name, demo }, mode, provider };
  });
}
