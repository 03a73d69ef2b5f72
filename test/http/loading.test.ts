/**
 * While a part loads (buildApp's `loading`), one check keeps every route that needs the model or
 * the detector at 503 NOT_READY with Retry-After, in each API's own error shape; operations,
 * docs and the language lists answer. The real-port start-up is in test/e2e/startup.test.ts.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeShared, makeApp } from './helpers.ts';

describe('routes while the detector and the engine load', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await makeApp({}, { warm: false, loading: ['detector', 'engine'] });
  });
  afterAll(async () => {
    await app.close();
    await closeShared();
  });

  it.each([
    ['POST', '/v1/translate', { text: 'Hallo', source: 'de', target: 'en' }],
    ['POST', '/v1/detect', { text: 'Hallo Welt' }],
  ] as const)('%s %s answers 503 NOT_READY with Retry-After and what is loading', async (method, url, payload) => {
    const res = await app.inject({ method, url, payload });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toMatch(/^\d+$/);
    expect(res.json()).toEqual({ error: { code: 'NOT_READY', message: expect.stringContaining('detector, engine'), details: { loading: ['detector', 'engine'] } } });
  });

  it('the LibreTranslate and DeepL routes refuse in their own shape, never a crash', async () => {
    // LibreTranslate has no 503: its clients get 500 "Cannot translate text: ..." for every server-side failure.
    const libre = await app.inject({ method: 'POST', url: '/translate', payload: { q: 'Hallo', source: 'de', target: 'en' } });
    expect(libre.statusCode).toBe(500);
    expect(libre.json()).toEqual({ error: expect.stringContaining('not loaded yet') });
    const deepl = await app.inject({ method: 'POST', url: '/v2/translate', payload: { text: ['Hallo'], target_lang: 'EN' } });
    expect(deepl.statusCode).toBe(503);
    expect(deepl.json()).toEqual({ message: 'Service unavailable', detail: expect.stringContaining('not loaded yet') });
  });

  it('/ready lists the parts still loading; /health, /metrics, /docs and the language lists answer 200', async () => {
    const ready = await app.inject({ method: 'GET', url: '/ready' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json().error).toMatchObject({ code: 'NOT_READY', details: { loading: ['detector', 'engine'] } });
    for (const url of ['/health', '/metrics', '/docs/json', '/v1/languages', '/languages', '/v2/languages']) {
      expect((await app.inject({ method: 'GET', url })).statusCode, url).toBe(200);
    }
    expect((await app.inject({ method: 'GET', url: '/nope' })).statusCode).toBe(404);
  });

  it('routes answer once every part is loaded; /ready waits for the warm-up', async () => {
    const { lifecycle } = app.xalma;
    lifecycle.markLoaded('detector');
    expect((await app.inject({ method: 'POST', url: '/v1/detect', payload: { text: 'Hallo Welt' } })).json().error.details).toEqual({ loading: ['engine'] });
    lifecycle.markLoaded('engine');
    expect((await app.inject({ method: 'POST', url: '/v1/translate', payload: { text: 'Hallo', source: 'de', target: 'en' } })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/ready' })).json().error.details).toEqual({ loading: ['warmup'] });
    lifecycle.markReady();
    expect((await app.inject({ method: 'GET', url: '/ready' })).statusCode).toBe(200);
  });
});
