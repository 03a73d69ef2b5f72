/**
 * The HTTP server: `buildApp` assembles one fastify instance around an engine and a detector
 * (no listen; tests inject into it), `startServer` makes the detector and engine from a
 * Config, listens, warms up and installs graceful shutdown on SIGTERM/SIGINT.
 */
import { randomUUID } from 'node:crypto';
import cors from '@fastify/cors';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import type { Config } from './config.ts';
import { startEngineWorker } from './engine/threaded-engine.ts';
import type { Engine } from './engine/types.ts';
import { XalmaError } from './errors.ts';
import { installAccess } from './http/access.ts';
import { deeplRoutes } from './http/deepl-routes.ts';
import { detectRoute } from './http/detect-route.ts';
import { errorSchema, installErrorHandling } from './http/errors.ts';
import { healthRoutes } from './http/health-routes.ts';
import { describeLanguages, languagesRoute } from './http/languages-route.ts';
import { libreTranslateRoutes } from './http/libretranslate-routes.ts';
import { Lifecycle } from './http/lifecycle.ts';
import { Metrics } from './http/metrics.ts';
import { modelInfo } from './http/model-info.ts';
import { registerDocs } from './http/openapi.ts';
import { translateRoute } from './http/translate-route.ts';
import { TranslateService, type TranslatedItem } from './http/translate-service.ts';
import { buildGroupTable, createDetector, type Detector } from './languages/index.ts';
import { Scheduler } from './scheduler/scheduler.ts';
import { TranslationCache } from './scheduler/translation-cache.ts';

export interface BuildAppOptions {
  config: Config;
  engine: Engine;
  detector: Detector;
  logger?: Logger;
  /** The engine is already warm: /ready answers 200 at once. */
  warm?: boolean;
}

/** What the app owns besides its routes; startServer and tests reach it as app.xalma. */
export interface AppState {
  scheduler: Scheduler;
  lifecycle: Lifecycle;
  metrics: Metrics;
  cache: TranslationCache<TranslatedItem>;
  engine: Engine;
}

declare module 'fastify' {
  interface FastifyInstance {
    xalma: AppState;
  }
}

export async function buildApp(options: BuildAppOptions): Promise<FastifyInstance> {
  const { config, engine, detector } = options;
  const logger = options.logger ?? pino({ level: config.logLevel });
  const app: FastifyInstance = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: config.bodyLimitBytes,
    // Ids are ours, never the client's: the scheduler aborts work by request id.
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    // Draining is answered by our own coded SHUTTING_DOWN (see the onRequest hook below).
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  });

  const model = modelInfo(engine);
  const lifecycle = new Lifecycle(options.warm ? 'ready' : 'starting');
  const cache = new TranslationCache<TranslatedItem>(config.cacheBytes);
  let metrics: Metrics | undefined;
  const scheduler = new Scheduler(
    {
      mixesGroups: engine.mixesGroups,
      maxBatchSize: config.maxBatchSize,
      maxWaitMs: config.maxWaitMs,
      groupAgeBoundMs: config.groupAgeBoundMs,
      maxQueue: config.maxQueue,
      observer: { onBatch: (r) => metrics?.onBatch(r), onEntryEnd: (s) => metrics?.onEntryEnd(s) },
    },
    logger.child({ component: 'scheduler', mode: engine.mode }),
  );
  metrics = new Metrics({ engine, cache, queueDepth: () => scheduler.depth, inFlight: () => scheduler.inFlight });
  app.decorate('xalma', { scheduler, lifecycle, metrics, cache, engine });

  installErrorHandling(app, config.retryAfterSeconds);
  app.addSchema(errorSchema);
  await registerDocs(app);
  if (config.corsOrigins.length > 0) {
    await app.register(cors, { origin: config.corsOrigins.includes('*') ? true : config.corsOrigins });
  }
  metrics.install(app);

  // Callback-style hooks: no promise per request on the hot path (bench/http.ts, cache hits).
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    if (lifecycle.state === 'draining' && request.url.startsWith('/v1/')) return done(new XalmaError('SHUTTING_DOWN'));
    done();
  });
  app.addHook('onSend', (_request, reply, payload, done) => {
    // Tell keep-alive clients to go elsewhere while we drain.
    if (lifecycle.state === 'draining') reply.header('connection', 'close');
    done(null, payload);
  });

  const groups = buildGroupTable(engine.manifest.groups);
  const service = new TranslateService({ modelName: engine.manifest.name, scheduler, cache, detector, groups, maxPositions: engine.manifest.dims.maxPositions, logger });
  const catalog = describeLanguages(engine.manifest, groups);
  const limits = { ...config };

  await app.register(healthRoutes, { lifecycle, model, engine });
  await app.register(async (v1) => {
    await installAccess(v1, config);
    await v1.register(translateRoute, { service, scheduler, model, limits });
    await v1.register(detectRoute, { detector, limits });
    await v1.register(languagesRoute, { catalog });
  });
  // The LibreTranslate and DeepL v2 APIs beside /v1, each with its own keys, limits and error shape.
  const compat = { service, scheduler, detector, catalog, model, config, draining: () => lifecycle.state === 'draining' };
  await app.register(libreTranslateRoutes, compat);
  await app.register(deeplRoutes, { ...compat, prefix: '/v2' });

  scheduler.start(engine);
  app.addHook('onClose', async () => {
    await scheduler.stop();
  });
  return app;
}

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  /** Stops accepting, drains in-flight work within config.shutdownTimeoutMs, closes the engine. */
  shutdown(reason?: string): Promise<void>;
}

export async function startServer(config: Config, opts: { signals?: boolean } = {}): Promise<RunningServer> {
  const logger = pino({ level: config.logLevel });
  const started = Date.now();
  // One after the other: the detector's wasm start-up has a timer (3 s in emscripten-wasm-loader)
  // that a concurrent engine load, busy on the event loop, could starve.
  const detector = await createDetector({ engines: config.detectEngines });
  // The engine runs in a worker thread: ORT's run is synchronous on its calling thread, and here
  // it must never stall the event loop that answers /health and parses requests.
  const engineStarting = startEngineWorker({
    modelDir: config.modelDir,
    mode: config.mode,
    provider: config.provider,
    cudaDeviceId: config.cudaDeviceId,
    cudaMemLimitMb: config.cudaMemLimitMb || undefined,
    intraOpThreads: config.intraOpThreads || undefined,
    interOpThreads: config.interOpThreads || undefined,
    maxResidentModules: config.maxResidentModules,
    maxMergedSessions: config.maxMergedSessions,
    // A worker that exits or hangs is replaced; past the budget /health fails (threaded-engine.ts).
    supervision: { maxRestarts: config.engineMaxRestarts, restartWindowMs: config.engineRestartWindowMs, hangTimeoutMs: config.engineHangTimeoutMs },
    logger: logger.child({ component: 'engine' }),
  });
  // While the worker loads the model: lingua's models (about 9 s on this thread), so that no
  // request pays for loading them later.
  if (config.detectPreload === 'on') {
    const preloadStart = Date.now();
    detector.preload();
    logger.info({ ms: Date.now() - preloadStart, engines: detector.engines }, 'detector models loaded');
  }
  const engine = await engineStarting;
  let app: FastifyInstance;
  let url: string;
  try {
    app = await buildApp({ config, engine, detector, logger });
    url = await app.listen({ port: config.port, host: config.host });
  } catch (err) {
    await engine.close();
    detector.dispose();
    throw err;
  }
  logger.info({ url, model: engine.manifest.name, demo: engine.manifest.demo, mode: engine.mode, provider: engine.provider }, 'listening');
  if (engine.manifest.demo) logger.warn('serving the embedded demo model: its outputs are not translations');
  // Listen first so /health answers while the engine warms up; /ready flips afterwards.
  await engine.warmup();
  app.xalma.lifecycle.markReady();
  logger.info({ ms: Date.now() - started }, 'ready');

  let shuttingDown: Promise<void> | null = null;
  const shutdown = (reason = 'shutdown') => (shuttingDown ??= drainAndClose(app, engine, detector, config, logger, reason));
  if (opts.signals !== false) {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        void shutdown(signal).then(
          () => process.exit(0),
          (err: unknown) => {
            logger.error({ err }, 'shutdown failed');
            process.exit(1);
          },
        );
      });
    }
  }
  return { app, url, shutdown };
}

async function drainAndClose(app: FastifyInstance, engine: Engine, detector: Detector, config: Config, logger: Logger, reason: string): Promise<void> {
  const { lifecycle, scheduler } = app.xalma;
  lifecycle.markDraining();
  logger.info({ reason, queued: scheduler.depth, inFlight: scheduler.inFlight, boundMs: config.shutdownTimeoutMs }, 'draining');
  // fastify.close stops listening, closes idle keep-alive sockets and waits for in-flight requests.
  const closed = app.close();
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), config.shutdownTimeoutMs)));
  const outcome = await Promise.race([closed.then(() => 'drained' as const), bound]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    logger.warn({ queued: scheduler.depth, inFlight: scheduler.inFlight }, 'drain bound reached; failing the remaining work with SHUTTING_DOWN');
    await scheduler.stop(new XalmaError('SHUTTING_DOWN', 'the drain bound was reached'));
    app.server.closeAllConnections();
    await closed;
  }
  await engine.close();
  detector.dispose();
  logger.info({ outcome }, 'stopped');
}
