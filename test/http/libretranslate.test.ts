/**
 * The LibreTranslate-compatible API (src/http/libretranslate-routes.ts) through fastify.inject:
 * request shapes (JSON, form, multipart), LibreTranslate's answers and its errors and statuses.
 * The demo model does not translate: tests compare outputs with /v1's for the same text.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SENTENCES, closeShared, makeApp, post, v1Text } from './helpers.ts';

const FR = SENTENCES[3].text;
const RU = SENTENCES[2].text;

let app: FastifyInstance;
beforeAll(async () => {
  app = await makeApp();
});
afterAll(async () => {
  await app.close();
  await closeShared();
});

const form = (fields: Record<string, string | string[]>) => {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) for (const x of [v].flat()) params.append(k, x);
  return params.toString();
};
const postForm = (a: FastifyInstance, url: string, fields: Record<string, string | string[]>) =>
  a.inject({ method: 'POST', url, payload: form(fields), headers: { 'content-type': 'application/x-www-form-urlencoded' } });

function multipart(fields: Record<string, string>, file?: { name: string; content: string }) {
  const boundary = '----xalmatestboundary';
  const parts = Object.entries(fields).map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`);
  if (file) parts.push(`--${boundary}\r\nContent-Disposition: form-data; name="${file.name}"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\n${file.content}\r\n`);
  return { payload: `${parts.join('')}--${boundary}--\r\n`, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}


describe('LibreTranslate: GET /languages and /frontend/settings', () => {
  it('lists every language of the model as a bare array of {code, name, targets}, targets without the language itself', async () => {
    const res = await app.inject('/languages');
    expect(res.statusCode).toBe(200);
    const list = res.json();
    expect(Array.isArray(list)).toBe(true);
    expect(list).toHaveLength(50);
    const de = list.find((l: { code: string }) => l.code === 'de');
    expect(de.name).toBe('German');
    expect(de.targets).toHaveLength(49);
    expect(de.targets).toContain('ja');
    expect(de.targets).not.toContain('de');
  });

  it('answers /frontend/settings with the text limit, key requirement and auto-detect source', async () => {
    const res = await app.inject('/frontend/settings');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ charLimit: 4000, apiKeys: false, keyRequired: false, filesTranslation: false, language: { source: { code: 'auto' }, target: { code: 'en' } } });
  });
});

describe('LibreTranslate: POST /translate', () => {
  it('translates a JSON q string with source auto and reports the detected language at 0-100 confidence', async () => {
    const res = await post(app, '/translate', { q: FR, source: 'auto', target: 'de' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.translatedText).toBe(await v1Text(app, FR, 'fr', 'de'));
    expect(body.detectedLanguage.language).toBe('fr');
    expect(body.detectedLanguage.confidence).toBeGreaterThan(1);
    expect(body.detectedLanguage.confidence).toBeLessThanOrEqual(100);
    expect(body.alternatives).toBeUndefined();
    expect(res.headers['x-xalma-model']).toBe('xalma-tiny-demo');
    expect(res.headers['x-xalma-demo']).toBe('true');
  });

  it('answers a q array with arrays, in order, and no detectedLanguage for a given source', async () => {
    const res = await post(app, '/translate', { q: [FR, 'Merci beaucoup pour votre aide'], source: 'fr', target: 'en' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.translatedText).toEqual([await v1Text(app, FR, 'fr', 'en'), await v1Text(app, 'Merci beaucoup pour votre aide', 'fr', 'en')]);
    expect(body.detectedLanguage).toBeUndefined();
  });

  it('takes a form body with the same answer as JSON, and alternatives as an empty list', async () => {
    const res = await postForm(app, '/translate', { q: FR, source: 'fr', target: 'de', alternatives: '2' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ translatedText: await v1Text(app, FR, 'fr', 'de'), alternatives: [] });
  });

  it('normalizes CRLF line ends of form bodies to LF, as LibreTranslate does (and leaves JSON as sent)', async () => {
    const crlf = 'Bonjour\r\nMerci';
    const res = await postForm(app, '/translate', { q: crlf, source: 'fr', target: 'fr' });
    expect(res.json().translatedText).toBe('Bonjour\nMerci');
    const json = await post(app, '/translate', { q: crlf, source: 'fr', target: 'fr' });
    expect(json.json().translatedText).toBe(crlf);
  });

  it('takes multipart FormData fields (what LibreTranslate\'s web page posts) and refuses a file part', async () => {
    const res = await app.inject({ method: 'POST', url: '/translate', ...multipart({ q: FR, source: 'fr', target: 'de' }) });
    expect(res.statusCode).toBe(200);
    expect(res.json().translatedText).toBe(await v1Text(app, FR, 'fr', 'de'));
    const withFile = await app.inject({ method: 'POST', url: '/translate', ...multipart({ source: 'fr', target: 'de' }, { name: 'q', content: FR }) });
    expect(withFile.statusCode).toBe(400);
    expect(withFile.json().error).toMatch(/file parts are not accepted/);
  });

  it('answers a text without language (digits, a URL) unchanged with LibreTranslate\'s en at confidence 0, beside translated ones', async () => {
    const res = await post(app, '/translate', { q: ['12345', RU, ''], source: 'auto', target: 'de' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.translatedText[0]).toBe('12345');
    expect(body.translatedText[1]).toBe(await v1Text(app, RU, 'ru', 'de'));
    expect(body.translatedText[2]).toBe('');
    expect(body.detectedLanguage[0]).toEqual({ confidence: 0, language: 'en' });
    expect(body.detectedLanguage[1].language).toBe('ru');
    // /v1 keeps its coded 422 for the same text.
    expect((await post(app, '/v1/translate', { text: '12345', target: 'de' })).json().error.code).toBe('SOURCE_UNDETECTED');
  });

  it('translates format html around its tags (test/http/markup.test.ts has more) and refuses another format with LibreTranslate\'s error', async () => {
    const plain = await post(app, '/translate', { q: FR, source: 'fr', target: 'de', format: 'html' });
    expect(plain.statusCode).toBe(200);
    expect(plain.json().translatedText).toBe(await v1Text(app, FR, 'fr', 'de'));
    const marked = await post(app, '/translate', { q: '<p>Bonjour <b>tout</b> le monde</p>', source: 'fr', target: 'de', format: 'html' });
    expect(marked.statusCode).toBe(200);
    expect(marked.json().translatedText).toMatch(/^<p>.* <b>.*<\/b> .*<\/p>$/s);
    expect(marked.json().translatedText).not.toContain('Bonjour');
    const other = await post(app, '/translate', { q: FR, source: 'fr', target: 'de', format: 'markdown' });
    expect(other.statusCode).toBe(400);
    expect(other.json()).toEqual({ error: 'markdown format is not supported' });
  });

  it.each([
    [{ source: 'fr', target: 'de' }, 'Invalid request: missing q parameter'],
    [{ q: '', source: 'fr', target: 'de' }, 'Invalid request: missing q parameter'],
    [{ q: FR, target: 'de' }, 'Invalid request: missing source parameter'],
    [{ q: FR, source: 'fr' }, 'Invalid request: missing target parameter'],
    [{ q: FR, source: 'xx', target: 'de' }, 'xx is not supported'],
    [{ q: FR, source: 'fr', target: 'tlh' }, 'tlh is not supported'],
    [{ q: FR, source: 'fr', target: 'de', alternatives: 'many' }, 'Invalid request: alternatives parameter is not a number'],
    [{ q: [FR, 7], source: 'fr', target: 'de' }, 'Invalid request: q must be a string or an array of strings'],
    [[FR], 'Invalid JSON format'],
  ])('answers %j with 400 {"error": %j}', async (body, error) => {
    const res = await post(app, '/translate', body);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error });
  });

  it('answers LibreTranslate\'s text-limit message for a text or batch over the configured limits', async () => {
    const small = await makeApp({ maxTextChars: 10, maxItems: 2 });
    const long = await post(small, '/translate', { q: 'Bonjour tout le monde', source: 'fr', target: 'de' });
    expect(long.statusCode).toBe(400);
    expect(long.json()).toEqual({ error: 'Invalid request: request (21) exceeds text limit (10)' });
    const many = await post(small, '/translate', { q: ['a', 'b', 'c'], source: 'fr', target: 'de' });
    expect(many.json()).toEqual({ error: 'Invalid request: request (3) exceeds text limit (2)' });
    await small.close();
  });

  it('answers a full queue with 429 "Slowdown" and Retry-After', async () => {
    const tight = await makeApp({ maxQueue: 1, cacheBytes: 0 });
    const res = await post(tight, '/translate', { q: [FR, RU], source: 'auto', target: 'de' });
    expect(res.statusCode).toBe(429);
    expect(res.json().error).toMatch(/^Slowdown: /);
    expect(res.headers['retry-after']).toBe('1');
    await tight.close();
  });

  it('refuses new work while the server drains', async () => {
    const draining = await makeApp();
    draining.xalma.lifecycle.markDraining();
    const res = await post(draining, '/translate', { q: FR, source: 'fr', target: 'de' });
    expect(res.statusCode).toBe(500);
    expect(res.json().error).toMatch(/shutting down/);
    await draining.close();
  });

  it('keeps /v1 JSON-only: a form body there is still 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    const res = await postForm(app, '/v1/translate', { text: FR, target: 'de' });
    expect(res.statusCode).toBe(415);
    expect(res.json().error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });
});

describe('LibreTranslate: POST /detect', () => {
  it('answers [{language, confidence 0-100}] best first', async () => {
    const res = await post(app, '/detect', { q: RU });
    expect(res.statusCode).toBe(200);
    const list = res.json();
    expect(list[0].language).toBe('ru');
    expect(list[0].confidence).toBeGreaterThan(50);
    expect(list[0].confidence).toBeLessThanOrEqual(100);
    for (let i = 1; i < list.length; i++) expect(list[i].confidence).toBeLessThanOrEqual(list[0].confidence);
  });

  it('takes a form body, answers en at 0 for a text without language, and 400 without q', async () => {
    const form = await postForm(app, '/detect', { q: SENTENCES[0].text });
    expect(form.json()[0].language).toBe('de');
    expect((await post(app, '/detect', { q: '12345' })).json()).toEqual([{ confidence: 0, language: 'en' }]);
    const none = await post(app, '/detect', {});
    expect(none.statusCode).toBe(400);
    expect(none.json()).toEqual({ error: 'Invalid request: missing q parameter' });
  });
});

describe('LibreTranslate: API keys and rate limit', () => {
  const KEY = 'lt-key-0123456789abcdef';
  let keyed: FastifyInstance;
  beforeAll(async () => {
    keyed = await makeApp({ apiKeys: [KEY], rateLimitMax: 6, rateLimitWindowMs: 60_000 });
  });
  afterAll(async () => {
    await keyed.close();
  });

  it('needs api_key (or apiKey, as the npm client sends) on /translate and /detect; the listings stay open', async () => {
    const missing = await post(keyed, '/translate', { q: FR, source: 'fr', target: 'de' });
    expect(missing.statusCode).toBe(400);
    expect(missing.json()).toEqual({ error: 'Please contact the server operator to get an API key' });
    const wrong = await post(keyed, '/translate', { q: FR, source: 'fr', target: 'de', api_key: 'not-a-key-0123456789' });
    expect(wrong.statusCode).toBe(403);
    expect(wrong.json()).toEqual({ error: 'Invalid API key' });
    expect((await post(keyed, '/translate', { q: FR, source: 'fr', target: 'de', api_key: KEY })).statusCode).toBe(200);
    expect((await post(keyed, '/translate', { q: FR, source: 'fr', target: 'de', apiKey: KEY })).statusCode).toBe(200);
    expect((await postForm(keyed, '/detect', { q: FR, api_key: KEY })).statusCode).toBe(200);
    expect((await keyed.inject('/languages')).statusCode).toBe(200);
    const settings = (await keyed.inject('/frontend/settings')).json();
    expect(settings).toMatchObject({ apiKeys: true, keyRequired: true });
  });

  it('answers past the rate limit with 429 {"error": "Slowdown: ..."}', async () => {
    let last;
    for (let i = 0; i < 8; i++) last = await post(keyed, '/detect', { q: FR, api_key: KEY });
    expect(last!.statusCode).toBe(429);
    expect(last!.json().error).toMatch(/^Slowdown: 6 per/);
  });
});
