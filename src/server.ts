/**
 * The HTTP server: `buildApp` assembles one fastify instance around an engine and a detector
 * (no listen; tests inject into it), `startServer` listens at once with stand-ins for both
 * (loading-handles.ts), loads the detector and the engine behind them, warms up and installs
 * graceful shutdown on SIGTERM/SIGINT (also while loading).
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
import { errorSchema, handleClientError, installErrorHandling } from './http/errors.ts';
import { healthRoutes } from './http/health-routes.ts';
import { describeLanguages, languagesRoute } from './http/languages-route.ts';
import { libreTranslateRoutes } from './http/libretranslate-routes.ts';
import { Lifecycle, type LoadingPart } from './http/lifecycle.ts';
import { Metrics } from './http/metrics.ts';
import { modelInfo, modelRoute } from './http/model-info.ts';
import { registerDocs } from './http/openapi.ts';
import { translateRoute } from './http/translate-route.ts';
import { WEB_PAGE_PATHS, webPage } from './http/web-page.ts';
import { TranslateService, type TranslatedItem } from './http/translate-service.ts';
import { buildGroupTable, createDetector, type Detector } from './languages/index.ts';
import { DetectorHandle, EngineHandle } from './loading-handles.ts';
import { readManifestFile } from './model/package.ts';
import { connectRedis } from './scheduler/redis-client.ts';
import { Scheduler } from './scheduler/scheduler.ts';
import { SharedCache } from './scheduler/shared-cache.ts';
import { TranslationCache } from './scheduler/translation-cache.ts';

export interface BuildAppOptions {
  config: Config;
  engine: Engine;
  detector: Detector;
  logger?: Logger;
  /** The engine is already warm: /ready answers 200 at once. */
  warm?: boolean;
  /** Parts still loading behind `engine` and `detector`: routes that need them answer NOT_READY. */
  loading?: LoadingPart[];
}

/**
 * Routes that answer while the detector and the engine load: operations, docs, the web page, the
 * model name and the language lists (built from manifest.json, read before listening). Every
 * other route needs a loaded part.
 */
const ANSWERS_WHILE_LOADING = new Set(['/health', '/ready', '/metrics', '/v1/model', '/v1/languages', '/languages', '/frontend/settings', '/v2/languages', ...WEB_PAGE_PATHS]);

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
    // Malformed request lines, oversized headers and timeouts never reach a route: answered
    // here in the same coded shape as every other error.
    clientErrorHandler: handleClientError,
    // A whole request (headers and body) within bodyTimeoutMs, else 408 REQUEST_TIMEOUT and close
    // (handleClientError): a client whose body stalls must not hold a socket for ever.
    requestTimeout: config.bodyTimeoutMs,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  });

  // Node swaps the two bounds when headersTimeout (60 s by default) exceeds requestTimeout, which
  // would stretch a short body timeout to 60 s: the headers' bound must not exceed the whole's.
  app.server.headersTimeout = Math.min(app.server.headersTimeout, config.bodyTimeoutMs);
  // Node checks request timeouts on an interval (30 s by default), read when the server starts
  // listening: a tenth of the bound (at most 1 s) closes a stalled request within 10% of it.
  // (@types/node does not declare the property; Node's http.Server reads it in its 'listening' handler.)
  (app.server as typeof app.server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = Math.min(1000, Math.max(50, Math.floor(config.bodyTimeoutMs / 10)));
  const model = modelInfo(engine);
  const lifecycle = new Lifecycle(options.warm ? 'ready' : 'starting', options.loading);
  const cache = new TranslationCache<TranslatedItem>(config.cacheBytes);
  const redis = config.cacheUrl ? connectRedis(config.cacheUrl, config.cacheTimeoutMs) : undefined;
  const sharedCache = redis && new SharedCache<TranslatedItem>({ client: redis.client, ttlSeconds: config.cacheTtlSeconds, logger: logger.child({ component: 'shared-cache' }) });
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
  metrics = new Metrics({ engine, cache, sharedCache, queueDepth: () => scheduler.depth, inFlight: () => scheduler.inFlight });
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
    // The one readiness check: unknown routes still get their 404, the compat APIs their own shape.
    if (!lifecycle.loaded && !answersWhileLoading(request.routeOptions.url)) {
      return done(new XalmaError('NOT_READY', `still loading: ${lifecycle.loading.join(', ')}`, { loading: lifecycle.loading }));
    }
    done();
  });
  app.addHook('onSend', (_request, reply, payload, done) => {
    // Tell keep-alive clients to go elsewhere while we drain.
    if (lifecycle.state === 'draining') reply.header('connection', 'close');
    done(null, payload);
  });

  const groups = buildGroupTable(engine.manifest.groups);
  const service = new TranslateService({ modelName: engine.manifest.name, scheduler, cache, sharedCache, detector, groups, maxPositions: engine.manifest.dims.maxPositions, logger });
  const catalog = describeLanguages(engine.manifest, groups);
  const limits = { ...config };

  await app.register(healthRoutes, { lifecycle, model, engine });
  await app.register(async (v1) => {
    await installAccess(v1, config);
    await v1.register(translateRoute, { service, scheduler, model, limits });
    await v1.register(detectRoute, { detector, limits });
    await v1.register(languagesRoute, { catalog });
    await v1.register(modelRoute, { model });
  });
  // The LibreTranslate and DeepL v2 APIs beside /v1, each with its own keys, limits and error shape.
  const compat = { service, scheduler, detector, catalog, model, config, draining: () => lifecycle.state === 'draining' };
  await app.register(libreTranslateRoutes, compat);
  await app.register(deeplRoutes, { ...compat, prefix: '/v2' });
  // GET /: the translation page, a client of the routes above.
  await app.register(webPage);

  scheduler.start(engine);
  app.addHook('onClose', async () => {
    await scheduler.stop();
    await redis?.close();
  });
  return app;
}

function answersWhileLoading(url: string | undefined): boolean {
  return url === undefined || ANSWERS_WHILE_LOADING.has(url) || url.startsWith('/docs');
}

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  /**
   * Settles when start-up is over: 'ready' once the detector and the engine are loaded and the
   * engine is warm; 'stopped' when shutdown came first. Rejects when loading failed (the server
   * has shut itself down by then).
   */
  startup: Promise<'ready' | 'stopped'>;
  /** Stops accepting, drains in-flight work within config.shutdownTimeoutMs, closes the engine. */
  shutdown(reason?: string): Promise<void>;
}

export interface StartServerOptions {
  /** Install SIGTERM/SIGINT handlers (default true). */
  signals?: boolean;
  /**
   * Tests: awaited just before a part is reported loaded, to hold start-up at a known point
   * (the engine worker is running by the time the detector is held).
   */
  beforeLoaded?: (part: LoadingPart) => Promise<void>;
}

export async function startServer(config: Config, opts: StartServerOptions = {}): Promise<RunningServer> {
  const logger = pino({ level: config.logLevel });
  const started = Date.now();
  // manifest.json alone (milliseconds): the routes' static data, before anything slow.
  const manifest = await readManifestFile(config.modelDir);
  const engine = new EngineHandle({ manifest, mode: config.mode, provider: config.provider });
  const detector = new DetectorHandle();
  const app = await buildApp({ config, engine, detector, logger, loading: ['detector', 'engine'] });
  let url: string;
  try {
    url = await app.listen({ port: config.port, host: config.host });
  } catch (err) {
    await app.close();
    throw err;
  }
  logger.info({ url, model: manifest.name, demo: manifest.demo, mode: config.mode, provider: config.provider }, 'listening');
  if (manifest.demo) logger.warn('serving the embedded demo model: its outputs are not translations');

  const stopLoading = new AbortController();
  let shuttingDown: Promise<void> | null = null;
  const shutdown = (reason = 'shutdown') => {
    stopLoading.abort();
    return (shuttingDown ??= drainAndClose(app, engine, detector, config, logger, reason));
  };
  const startup = loadParts({ config, app, engine, detector, logger, signal: stopLoading.signal, beforeLoaded: opts.beforeLoaded }).then(
    () => {
      logger.info({ ms: Date.now() - started }, 'ready');
      // One line for the person who started it, beside the JSON log.
      const demo = manifest.demo ? ' (demo weights, not real translations)' : '';
      process.stdout.write(`xalma-serve ready at ${url} — model ${manifest.name}${demo}, mode ${config.mode} — docs: ${url}/docs\n`);
      return 'ready' as const;
    },
    async (err: unknown) => {
      if (stopLoading.signal.aborted) return 'stopped' as const;
      logger.error({ err }, 'start-up failed');
      await shutdown('start-up failed').catch((closeErr: unknown) => logger.error({ err: closeErr }, 'shutdown after a failed start failed'));
      throw err;
    },
  );
  // Handled here too: a caller that never awaits startup must not see an unhandled rejection.
  startup.catch(() => {});
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
  return { app, url, startup, shutdown };
}

interface LoadPartsOptions {
  config: Config;
  app: FastifyInstance;
  engine: EngineHandle;
  detector: DetectorHandle;
  logger: Logger;
  signal: AbortSignal;
  beforeLoaded?: (part: LoadingPart) => Promise<void>;
}

/** Loads the detector and the engine behind their handles, then warms up; the server already listens. */
async function loadParts({ config, app, engine, detector, logger, signal, beforeLoaded }: LoadPartsOptions): Promise<void> {
  const { lifecycle } = app.xalma;
  const stopped = () => {
    if (signal.aborted) throw new XalmaError('SHUTTING_DOWN', 'shut down during start-up');
  };
  // One after the other: the detector's wasm start-up has a timer (3 s in emscripten-wasm-loader)
  // that a concurrent engine load, busy on the event loop, could starve.
  const loadedDetector = await detector.load(createDetector({ engines: config.detectEngines }));
  stopped();
  // The engine runs in a worker thread: ORT's run is synchronous on its calling thread, and here
  // it must never stall the event loop that answers /health and parses requests.
  const engineLoaded = engine.load(
    startEngineWorker({
      modelDir: config.modelDir,
      mode: config.mode,
      provider: config.provider,
      cudaDeviceId: config.cudaDeviceId,
      cudaMemLimitMb: config.cudaMemLimitMb || undefined,
      intraOpThreads: config.intraOpThreads || undefined,
      interOpThreads: config.interOpThreads || undefined,
      maxResidentModules: config.maxResidentModules,
      maxMergedSessions: config.maxMergedSessions,
      limits: { maxRows: config.maxBatchSize, maxBatchTokens: config.maxBatchTokens, maxPrefillTokens: config.maxPrefillTokens, prefixCacheBytes: config.prefixCacheMb * 1024 ** 2 },
      // A worker that exits or hangs is replaced; past the budget /health fails (threaded-engine.ts).
      supervision: { maxRestarts: config.engineMaxRestarts, restartWindowMs: config.engineRestartWindowMs, hangTimeoutMs: config.engineHangTimeoutMs },
      logger: logger.child({ component: 'engine' }),
    }),
  );
  // Observed by the await below; without this, a failing start during the preload would count
  // as unhandled for a moment.
  engineLoaded.catch(() => {});
  // While the worker loads the model: lingua's models (about 9 s of this thread, in steps so that
  // /health keeps answering), so that no request pays for loading them later.
  if (config.detectPreload === 'on') {
    const preloadStart = Date.now();
    await detector.preloadInSteps(signal);
    stopped();
    logger.info({ ms: Date.now() - preloadStart, engines: loadedDetector.engines }, 'detector models loaded');
  }
  await beforeLoaded?.('detector');
  stopped();
  lifecycle.markLoaded('detector');
  const loadedEngine = await engineLoaded;
  await beforeLoaded?.('engine');
  stopped();
  lifecycle.markLoaded('engine');
  await loadedEngine.warmup();
  stopped();
  lifecycle.markReady();
}

async function drainAndClose(app: FastifyInstance, engine: EngineHandle, detector: DetectorHandle, config: Config, logger: Logger, reason: string): Promise<void> {
  const { lifecycle, scheduler } = app.xalma;
  const loading = lifecycle.loading;
  lifecycle.markDraining();
  logger.info({ reason, loading, queued: scheduler.depth, inFlight: scheduler.inFlight, boundMs: config.shutdownTimeoutMs }, 'draining');
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
  // A part still loading is awaited and closed as it arrives: no half-started worker is left.
  await engine.close();
  await detector.close();
  logger.info({ outcome }, 'stopped');
}
