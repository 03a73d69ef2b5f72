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

describe('POST /v1/translate', () => {
  it('answers one text with the model name, demo flag, mode and a detected source', async () => {
    const res = await post(app, '/v1/translate', { text: SENTENCES[0].text, target: 'en', options: FAST });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.model).toEqual({ name: 'xalma-tiny-demo', demo: true });
    expect(body.mode).toBe('all');
    expect(body.translations).toHaveLength(1);
    const t = body.translations[0];
    expect(typeof t.text).toBe('string');
    expect(t.source).toMatchObject({ language: 'de', detected: true });
    expect(t.source.confidence).toBeGreaterThan(0);
    expect(t.target).toEqual({ language: 'en' });
    expect(t.group).toBe(1);
    expect(t.pivot).toBeNull();
    expect(['eos', 'length']).toContain(t.finishReason);
    expect(t.outputTokens).toBeLessThanOrEqual(8);
    expect(res.headers['x-request-id']).toMatch(/[0-9a-f-]{36}/);
  });

  it('uses a given source without detection and reports the group of the pair', async () => {
    const res = await post(app, '/v1/translate', { text: 'Hello there', source: 'en', target: 'ru', options: FAST });
    expect(res.statusCode).toBe(200);
    const t = res.json().translations[0];
    expect(t.source).toMatchObject({ language: 'en', detected: false });
    expect(t.source.confidence).toBeUndefined();
    expect(t.group).toBe(3);
  });

  it('serves a pair across groups through the English pivot (two hops)', async () => {
    const res = await post(app, '/v1/translate', { text: SENTENCES[0].text, source: 'de', target: 'ja', options: FAST });
    expect(res.statusCode).toBe(200);
    const t = res.json().translations[0];
    expect(t.group).toBe(1);
    expect(t.pivot).toEqual({ language: 'en', group: 6 });
  });

  it('answers source = target without the engine', async () => {
    const res = await post(app, '/v1/translate', { text: 'Guten Tag', source: 'de', target: 'de' });
    expect(res.statusCode).toBe(200);
    expect(res.json().translations[0]).toMatchObject({ text: 'Guten Tag', group: null, pivot: null, finishReason: 'identity', outputTokens: 0 });
  });

  it('splits an array into items, each planned on its own, in order', async () => {
    const res = await post(app, '/v1/translate', { text: SENTENCES.map((s) => s.text), target: 'en', options: FAST });
    expect(res.statusCode).toBe(200);
    const items = res.json().translations;
    expect(items.map((t: { source: { language: string } }) => t.source.language)).toEqual(SENTENCES.map((s) => s.lang));
    expect(new Set(items.map((t: { group: number }) => t.group)).size).toBe(8);
  });

  it('serves a repeated deterministic request from the cache, and never caches unseeded sampling', async () => {
    const body = { text: 'Das ist ein Test des Zwischenspeichers.', source: 'de', target: 'en', options: FAST };
    const first = await post(app, '/v1/translate', body);
    const second = await post(app, '/v1/translate', body);
    expect(first.json().translations[0].cached).toBe(false);
    expect(second.json().translations[0]).toEqual({ ...first.json().translations[0], cached: true });
    const sampled = { ...body, options: { ...FAST, sample: true, temperature: 0.8 } };
    await post(app, '/v1/translate', sampled);
    expect((await post(app, '/v1/translate', sampled)).json().translations[0].cached).toBe(false);
    const seeded = { ...body, options: { ...FAST, sample: true, seed: 7 } };
    await post(app, '/v1/translate', seeded);
    expect((await post(app, '/v1/translate', seeded)).json().translations[0].cached).toBe(true);
    const metrics = (await app.inject('/metrics')).body;
    expect(metrics).toMatch(/xalma_translation_cache_hits_total [1-9]/);
  });

  it('gives the same output for the same seed (cache off, so the engine runs twice)', async () => {
    const noCache = await makeApp({ cacheBytes: 0 });
    try {
      const body = { text: 'Eine kleine Probe.', source: 'de', target: 'en', options: { ...FAST, sample: true, seed: 42 } };
      const a = await post(noCache, '/v1/translate', body);
      const b = await post(noCache, '/v1/translate', body);
      expect(b.json().translations[0].cached).toBe(false);
      expect(a.json().translations[0].text).toBe(b.json().translations[0].text);
    } finally {
      await noCache.close();
    }
  });
});
