/**
 * GET / (the translation page, src/http/web-page.ts) and GET /v1/model, through fastify.inject:
 * both answer while the model loads, the page's files are served with their types and a
 * same-origin CSP, and the page refers to nothing outside this server. The page's behaviour in a
 * browser is test/e2e/web-page.test.ts.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeShared, makeApp } from './helpers.ts';

const KEY = 'web-page-test-key-0123456789';

describe('the web page and GET /v1/model', () => {
  let loading: FastifyInstance;
  let keyed: FastifyInstance;
  beforeAll(async () => {
    loading = await makeApp({}, { warm: false, loading: ['detector', 'engine'] });
    keyed = await makeApp({ apiKeys: [KEY] });
  });
  afterAll(async () => {
    await loading.close();
    await keyed.close();
    await closeShared();
  });

  it.each([
    ['/', /^text\/html; charset=utf-8$/],
    ['/web/page.js', /^text\/javascript; charset=utf-8$/],
    ['/web/page.css', /^text\/css; charset=utf-8$/],
  ])('%s answers 200 while the model loads, with its type, a same-origin CSP and no-cache', async (url, type) => {
    const res = await loading.inject({ method: 'GET', url });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(type);
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.body.length).toBeGreaterThan(100);
  });

  it('the page loads only files this server serves: every src/href is a local path that answers 200, no other host is named', async () => {
    const html = (await loading.inject({ method: 'GET', url: '/' })).body;
    const refs = [...html.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => m[1]);
    expect(refs).toEqual(expect.arrayContaining(['/web/page.js', '/web/page.css']));
    for (const ref of refs) {
      if (ref.startsWith('data:')) continue;
      expect(ref, ref).toMatch(/^\/(?!\/)/);
      if (ref === '/docs') continue; // Swagger UI, tested with the docs
      expect((await loading.inject({ method: 'GET', url: ref })).statusCode, ref).toBe(200);
    }
    for (const url of ['/', '/web/page.js', '/web/page.css']) {
      expect((await loading.inject({ method: 'GET', url })).body, url).not.toMatch(/(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}/i);
    }
  });

  it('GET /v1/model names the model and flags the demo, while the model loads', async () => {
    const res = await loading.inject({ method: 'GET', url: '/v1/model' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ name: 'xalma-tiny-demo', demo: true, mode: 'all' });
  });

  it('with API keys, /v1/model needs one like the rest of /v1, while the page itself stays open', async () => {
    expect((await keyed.inject({ method: 'GET', url: '/v1/model' })).json().error.code).toBe('API_KEY_INVALID');
    const withKey = await keyed.inject({ method: 'GET', url: '/v1/model', headers: { authorization: `Bearer ${KEY}` } });
    expect(withKey.json()).toMatchObject({ name: 'xalma-tiny-demo', demo: true });
    expect((await keyed.inject({ method: 'GET', url: '/' })).statusCode).toBe(200);
  });

  it('the spec documents /v1/model and leaves the page out', async () => {
    const spec = (await loading.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, unknown> };
    expect(Object.keys(spec.paths)).toContain('/v1/model');
    expect(Object.keys(spec.paths)).not.toContain('/');
    expect(Object.keys(spec.paths).filter((p) => p.startsWith('/web'))).toEqual([]);
  });
});
