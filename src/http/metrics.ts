/**
 * Prometheus metrics with one registry per app (tests build several apps in one process).
 * Request counts/latencies come from an onResponse hook; queue depth, engine module counters
 * and cache sizes are read at scrape time from their owners instead of being mirrored.
 */
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Engine, EngineStats } from '../engine/types.ts';
import type { BatchReport, EntryState } from '../scheduler/types.ts';

export interface MetricSources {
  engine: Pick<Engine, 'stats' | 'health'>;
  queueDepth(): number;
  inFlight(): number;
  cache: { readonly hits: number; readonly misses: number; readonly bytes: number };
  /** The Redis cache replicas share, when --cache-url is set. */
  sharedCache?: { readonly hits: number; readonly misses: number; readonly errors: number; readonly skipped: number; readonly state: string };
}

export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly latency: Histogram<'method' | 'route' | 'status'>;
  private readonly batchSize: Histogram<string>;
  private readonly batchSeconds: Histogram<string>;
  private readonly batches: Counter<'group'>;
  private readonly tokens: Counter<string>;
  private readonly tokensPerSecond: Gauge<string>;
  private readonly rows: Counter<'state'>;

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'xalma_' });
    this.requests = new Counter({ name: 'xalma_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'], registers });
    this.latency = new Histogram({
      name: 'xalma_http_request_duration_seconds',
      help: 'HTTP request latency by route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    new Gauge({ name: 'xalma_queue_depth', help: 'Rows waiting for a batch', registers, collect() { this.set(sources.queueDepth()); } });
    new Gauge({ name: 'xalma_batch_in_flight_rows', help: 'Rows the engine is running (sent by the scheduler, not reported back)', registers, collect() { this.set(sources.inFlight()); } });
    this.batchSize = new Histogram({ name: 'xalma_batch_size', help: 'Rows per batch the scheduler sends (rows join the engine\'s running batch; see xalma_engine_decode_rows_total)', buckets: [1, 2, 4, 8, 16, 32, 64, 128], registers });
    this.batchSeconds = new Histogram({ name: 'xalma_batch_duration_seconds', help: 'Engine time per batch', buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60], registers });
    this.batches = new Counter({ name: 'xalma_batches_total', help: 'Engine batches by group ("mixed" when a batch mixes groups)', labelNames: ['group'], registers });
    this.tokens = new Counter({ name: 'xalma_output_tokens_total', help: 'Generated tokens', registers });
    this.tokensPerSecond = new Gauge({ name: 'xalma_output_tokens_per_second', help: 'Generated tokens per second of engine time, last batch', registers });
    this.rows = new Counter({ name: 'xalma_scheduler_rows_total', help: 'Rows that left the scheduler, by final state', labelNames: ['state'], registers });
    moduleCounter('xalma_module_loads_total', 'Module loads per group', (s) => s.moduleLoads);
    moduleCounter('xalma_module_evictions_total', 'Module evictions per group', (s) => s.moduleEvictions);
    moduleCounter('xalma_module_hits_total', 'Module cache hits per group', (s) => s.moduleHits);
    fromTotal('xalma_engine_restarts_total', 'Engine workers started to replace one that exited or stopped answering', () => sources.engine.health().restarts);
    // The engine's step loop: decode_rows / decode_steps is the mean decode batch.
    fromTotal('xalma_engine_decode_steps_total', 'Decode steps the engine ran', () => sources.engine.stats().decodeSteps);
    fromTotal('xalma_engine_decode_rows_total', 'Rows over all decode steps', () => sources.engine.stats().decodeRows);
    fromTotal('xalma_engine_step_seconds_total', 'Wall time the engine spent in model steps', () => sources.engine.stats().stepMs / 1000);
    fromTotal('xalma_engine_prefix_hits_total', 'Prompts prefilled after a cached prompt head (the language pair\'s shared start)', () => sources.engine.stats().prefixHits);
    fromTotal('xalma_engine_prefix_tokens_total', 'Prompt tokens taken from the prompt-head cache instead of computed', () => sources.engine.stats().prefixTokens);
    fromTotal('xalma_engine_prefills_total', 'Prefill steps (rows that joined the running batch together)', () => sources.engine.stats().batches);
    fromTotal('xalma_translation_cache_hits_total', 'Translation cache hits', () => sources.cache.hits);
    fromTotal('xalma_translation_cache_misses_total', 'Translation cache misses', () => sources.cache.misses);
    const shared = sources.sharedCache;
    if (shared) {
      fromTotal('xalma_shared_cache_hits_total', 'Shared (Redis) translation cache hits', () => shared.hits);
      fromTotal('xalma_shared_cache_misses_total', 'Shared (Redis) translation cache misses', () => shared.misses);
      fromTotal('xalma_shared_cache_errors_total', 'Shared (Redis) cache commands that failed or timed out; the request went on without the cache', () => shared.errors);
      fromTotal('xalma_shared_cache_skipped_total', 'Shared cache lookups not sent because Redis failed within the last second', () => shared.skipped);
      new Gauge({ name: 'xalma_shared_cache_up', help: '1 when the last shared cache command succeeded', registers, collect() { this.set(shared.state === 'up' ? 1 : 0); } });
    }
    new Gauge({ name: 'xalma_translation_cache_bytes', help: 'Bytes held by the translation cache', registers, collect() { this.set(sources.cache.bytes); } });

    /** The engine keeps cumulative per-group counts; the counter advances by the difference. */
    function moduleCounter(name: string, help: string, pick: (s: EngineStats) => Record<number, number>) {
      const seen = new Map<string, number>();
      new Counter({
        name,
        help,
        labelNames: ['group'],
        registers,
        collect() {
          for (const [group, total] of Object.entries(pick(sources.engine.stats()))) {
            const delta = total - (seen.get(group) ?? 0);
            if (delta > 0) this.inc({ group }, delta);
            seen.set(group, total);
          }
        },
      });
    }
    function fromTotal(name: string, help: string, read: () => number) {
      let seen = 0;
      new Counter({
        name,
        help,
        registers,
        collect() {
          const total = read();
          if (total > seen) this.inc(total - seen);
          seen = total;
        },
      });
    }
  }

  onBatch(report: BatchReport): void {
    this.batchSize.observe(report.size);
    this.batchSeconds.observe(report.durationMs / 1000);
    this.batches.inc({ group: report.group === null ? 'mixed' : String(report.group) });
    this.tokens.inc(report.outputTokens);
    if (report.durationMs > 0) this.tokensPerSecond.set((report.outputTokens * 1000) / report.durationMs);
  }

  onEntryEnd(state: Exclude<EntryState, 'queued' | 'running'>): void {
    this.rows.inc({ state });
  }

  /** Counts and times every response by its route pattern (not the raw URL: bounded labels). */
  install(app: FastifyInstance): void {
    // Label children cached per (method, route, status): prom-client hashes label objects on every call.
    const children = new Map<string, { count: { inc(): void }; latency: { observe(v: number): void } }>();
    app.addHook('onResponse', (request, reply, done) => {
      const route = request.routeOptions.url ?? 'unmatched';
      const id = `${request.method} ${route} ${reply.statusCode}`;
      let child = children.get(id);
      if (!child) {
        const labels = { method: request.method, route, status: String(reply.statusCode) };
        child = { count: this.requests.labels(labels), latency: this.latency.labels(labels) };
        children.set(id, child);
      }
      child.count.inc();
      child.latency.observe(reply.elapsedTime / 1000);
      done();
    });
    app.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['operations'], produces: ['text/plain'] } }, async (_request, reply) => {
      reply.header('content-type', this.registry.contentType);
      return this.registry.metrics();
    });
  }
}
