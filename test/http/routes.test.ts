import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST, SENTENCES, closeShared, makeApp, post } from './helpers.ts';

let app: FastifyInstance;
beforeAll(async () => {
  app = await makeApp();
});
afterAll(async () => {
  await app.close();
  await closeShared();
});

describe('operations routes', () => {
  it('GET /health answers ok', async () => {
    const res = await app.inject('/health');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('GET /ready reports the model, mode and provider once warm', async () => {
    const res = await app.inject('/ready');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ready', model: { name: 'xalma-tiny-demo', demo: true }, mode: 'all', provider: 'cpu' });
  });

  it('GET /metrics exposes request, queue, batch, token, module and cache metrics', async () => {
    await post(app, '/v1/translate', { text: 'Guten Morgen zusammen', source: 'de', target: 'en', options: FAST });
    const res = await app.inject('/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/plain/);
    for (const name of [
      'xalma_http_requests_total{method="POST",route="/v1/translate",status="200"} 1',
      'xalma_http_request_duration_seconds_bucket',
      'xalma_queue_depth 0',
      'xalma_batch_size_bucket',
      'xalma_batches_total',
      'xalma_output_tokens_total',
      'xalma_output_tokens_per_second',
      'xalma_module_hits_total',
      'xalma_translation_cache_hits_total',
      'xalma_translation_cache_bytes',
      'xalma_scheduler_rows_total{state="done"}',
    ]) {
      expect(res.body).toContain(name);
    }
    // The step loop's counters follow the engine's own (its decode steps ran this row).
    const value = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(res.body)?.[1] ?? NaN);
    const stats = app.xalma.engine.stats();
    expect(value('xalma_engine_decode_steps_total')).toBe(stats.decodeSteps);
    expect(value('xalma_engine_decode_rows_total')).toBe(stats.decodeRows);
    expect(stats.decodeSteps).toBeGreaterThan(0);
  });

  it('GET /metrics counts prompts that started from a cached prompt head: the second text of a pair does', async () => {
    const value = async (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec((await app.inject('/metrics')).body)?.[1] ?? NaN);
    await post(app, '/v1/translate', { text: 'Das Wetter ist heute schön', source: 'de', target: 'en', options: FAST });
    const before = await value('xalma_engine_prefix_hits_total');
    const tokensBefore = await value('xalma_engine_prefix_tokens_total');
    await post(app, '/v1/translate', { text: 'Wo ist der Bahnhof', source: 'de', target: 'en', options: FAST });
    expect(await value('xalma_engine_prefix_hits_total')).toBe(before + 1);
    expect(await value('xalma_engine_prefix_tokens_total')).toBeGreaterThan(tokensBefore + 5);
    expect(app.xalma.engine.stats().prefixHits).toBe(before + 1);
  });

  it('GET /docs serves Swagger UI and /docs/json the spec', async () => {
    const ui = await app.inject('/docs/');
    expect(ui.statusCode).toBe(200);
    expect(ui.headers['content-type']).toMatch(/text\/html/);
    const spec = await app.inject('/docs/json');
    expect(spec.json().paths['/v1/translate']).toBeDefined();
  });

  it('CORS is off by default and on for configured origins', async () => {
    const res = await app.inject({ url: '/v1/languages', headers: { origin: 'https://example.org' } });
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    const open = await makeApp({ corsOrigins: ['https://example.org'] });
    try {
      const ok = await open.inject({ url: '/v1/languages', headers: { origin: 'https://example.org' } });
      expect(ok.headers['access-control-allow-origin']).toBe('https://example.org');
    } finally {
      await open.close();
    }
  });
});

describe('GET /v1/languages', () => {
  it('lists the 50 languages (English included), the 8 groups and the direct pairs', async () => {
    const res = await app.inject('/v1/languages');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.groups).toHaveLength(8);
    expect(body.languages.length).toBe(50);
    const de = body.languages.find((l: { code: string }) => l.code === 'de');
    expect(de).toMatchObject({ name: 'German', groups: [1] });
    expect(body.languages.find((l: { code: string }) => l.code === 'en').groups).toHaveLength(8);
    expect(body.pairs).toContainEqual({ source: 'de', target: 'en', group: 1 });
    expect(body.pairs).toContainEqual({ source: 'en', target: 'ja', group: 6 });
    expect(body.pairs.find((p: { source: string; target: string }) => p.source === 'de' && p.target === 'ja')).toBeUndefined();
    expect(body.pivot).toBe('en');
  });
});

describe('POST /v1/detect', () => {
  it('detects one text with language, confidence and candidates', async () => {
    const res = await post(app, '/v1/detect', { text: SENTENCES[1].text });
    expect(res.statusCode).toBe(200);
    const [d] = res.json().detections;
    expect(d.language).toBe('es');
    expect(d.confidence).toBeGreaterThan(0);
    expect(d.confidence).toBeLessThanOrEqual(1);
    expect(Array.isArray(d.candidates)).toBe(true);
  });

  it('detects an array item by item, "und" when there is nothing to go on', async () => {
    const res = await post(app, '/v1/detect', { text: [...SENTENCES.map((s) => s.text), '12345'] });
    expect(res.statusCode).toBe(200);
    const langs = res.json().detections.map((d: { language: string }) => d.language);
    expect(langs).toEqual([...SENTENCES.map((s) => s.lang), 'und']);
  });
});
