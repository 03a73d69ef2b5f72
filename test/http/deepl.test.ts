/**
 * The DeepL-compatible API v2 (src/http/deepl-routes.ts) through fastify.inject: form and JSON
 * bodies, DeepL's language codes, options, errors `{message, detail}` and statuses, keys, the
 * character quota (456) and usage. Outputs are compared with /v1's for the same text.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SENTENCES, closeShared, makeApp, post, v1Text } from './helpers.ts';

const FR = SENTENCES[3].text;
const DE = SENTENCES[0].text;
const KEY = 'deepl-key-0123456789abcdef';
const OTHER_KEY = 'deepl-key-fedcba9876543210';

let app: FastifyInstance;
beforeAll(async () => {
  app = await makeApp();
});
afterAll(async () => {
  await app.close();
  await closeShared();
});

function form(fields: Record<string, string | string[]>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) for (const x of [v].flat()) params.append(k, x);
  return params.toString();
}
const postForm = (a: FastifyInstance, url: string, fields: Record<string, string | string[]>, headers: Record<string, string> = {}) =>
  a.inject({ method: 'POST', url, payload: form(fields), headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } });


describe('DeepL: POST /v2/translate', () => {
  it('translates repeated form `text` fields in order, with upper-case detected source and billed characters', async () => {
    const res = await postForm(app, '/v2/translate', { text: [FR, DE], target_lang: 'EN-GB', show_billed_characters: '1' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      translations: [
        { detected_source_language: 'FR', text: await v1Text(app, FR, 'fr', 'en'), billed_characters: [...FR].length },
        { detected_source_language: 'DE', text: await v1Text(app, DE, 'de', 'en'), billed_characters: [...DE].length },
      ],
    });
    expect(res.headers['x-xalma-demo']).toBe('true');
  });

  it('takes the JSON body Weblate sends (formality default, tag_handling xml, ignore_tags [x]) for text without markup', async () => {
    const res = await post(app, '/v2/translate', { text: [FR], source_lang: 'FR', target_lang: 'DE', formality: 'default', tag_handling: 'xml', ignore_tags: ['x'] });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ translations: [{ detected_source_language: 'FR', text: await v1Text(app, FR, 'fr', 'de') }] });
  });

  it.each(['EN-US', 'PT-BR', 'PT-PT', 'ZH-HANS', 'NB', 'de'])('accepts DeepL\'s target_lang %s', async (target) => {
    const res = await post(app, '/v2/translate', { text: [FR], target_lang: target });
    expect(res.statusCode).toBe(200);
  });

  it('answers a text without language unchanged and an empty text empty, without failing the batch', async () => {
    const res = await post(app, '/v2/translate', { text: ['%s', '', FR], target_lang: 'DE' });
    expect(res.statusCode).toBe(200);
    expect(res.json().translations.map((t: { text: string }) => t.text)).toEqual(['%s', '', await v1Text(app, FR, 'fr', 'de')]);
    // With a given source too: an empty or blank text never reaches the model.
    const given = await post(app, '/v2/translate', { text: ['', '  ', FR], source_lang: 'FR', target_lang: 'DE' });
    expect(given.json().translations.map((t: { text: string }) => t.text)).toEqual(['', '', await v1Text(app, FR, 'fr', 'de')]);
  });

  it.each([
    [{ target_lang: 'DE' }, "Parameter 'text' not specified."],
    [{ text: [FR] }, "Parameter 'target_lang' not specified."],
    [{ text: [FR], target_lang: 'XX' }, "Value for 'target_lang' not supported."],
    [{ text: [FR], target_lang: 'DE', source_lang: 'KLINGON' }, "Value for 'source_lang' not supported."],
    [{ text: [FR], target_lang: 'DE', formality: 'more' }, "'formality' is not supported for given 'target_lang'."],
    [{ text: [FR], target_lang: 'DE', formality: 'whatever' }, "Value for 'formality' not supported."],
    [{ text: [FR], target_lang: 'DE', split_sentences: 'sometimes' }, "Value for 'split_sentences' not supported."],
    [{ text: [FR], target_lang: 'DE', tag_handling: 'markdown' }, "Value for 'tag_handling' not supported."],
    [{ text: [FR], target_lang: 'DE', glossary_id: 'abc' }, "Value for 'glossary_id' not supported."],
    [{ text: [FR], target_lang: 'DE', style_id: 'abc' }, "Value for 'style_id' not supported."],
    [{ text: [FR], target_lang: 'DE', custom_instructions: ['be brief'] }, "Value for 'custom_instructions' not supported."],
    [{ text: ['Hello <x id="7"></x> world'], source_lang: 'EN', target_lang: 'DE', tag_handling: 'xml', ignore_tags: 'x y' }, "Value for 'ignore_tags' not supported."],
  ])('answers %j with 400 and DeepL\'s message %j', async (body, message) => {
    const res = await post(app, '/v2/translate', body);
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toBe(message);
  });

  it('answers bad JSON with 400 {message, detail}, an unknown /v2 route with 404 {message}', async () => {
    const bad = await app.inject({ method: 'POST', url: '/v2/translate', payload: '{"text":', headers: { 'content-type': 'application/json' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toBe('Bad request');
    expect(bad.json().detail).toMatch(/JSON/);
    const missing = await app.inject('/v2/document');
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ message: 'Not found', detail: 'GET /v2/document' });
  });

  it('answers texts over the configured limits with 413', async () => {
    const small = await makeApp({ maxTextChars: 10, maxItems: 2 });
    const long = await post(small, '/v2/translate', { text: ['Bonjour tout le monde'], target_lang: 'DE' });
    expect(long.statusCode).toBe(413);
    expect(long.json()).toEqual({ message: 'Request Entity Too Large', detail: 'text 0 has 21 characters, at most 10' });
    const many = await post(small, '/v2/translate', { text: ['a', 'b', 'c'], target_lang: 'DE' });
    expect(many.statusCode).toBe(413);
    await small.close();
  });
});

describe('DeepL: /v2/languages, /v2/glossary-language-pairs', () => {
  it('lists source languages in DeepL\'s spelling (NB for Norwegian), plain EN and PT among them', async () => {
    const res = await app.inject('/v2/languages?type=source');
    expect(res.statusCode).toBe(200);
    const codes = res.json().map((l: { language: string }) => l.language);
    expect(codes).toHaveLength(50);
    expect(codes).toEqual(expect.arrayContaining(['DE', 'EN', 'PT', 'NB', 'ZH']));
    expect(codes).not.toContain('NO');
    expect(res.json().find((l: { language: string }) => l.language === 'DE')).toEqual({ language: 'DE', name: 'German' });
    expect((await app.inject('/v2/languages')).json()).toEqual(res.json());
  });

  it('lists targets with EN-GB/EN-US and PT-BR/PT-PT instead of EN and PT, none supporting formality; POST form works too', async () => {
    const res = await postForm(app, '/v2/languages', { type: 'target' });
    expect(res.statusCode).toBe(200);
    const list = res.json() as Array<{ language: string; supports_formality: boolean }>;
    const codes = list.map((l) => l.language);
    expect(codes).toEqual(expect.arrayContaining(['EN-GB', 'EN-US', 'PT-BR', 'PT-PT', 'ZH', 'DE']));
    expect(codes).not.toContain('EN');
    expect(codes).not.toContain('PT');
    expect(list.every((l) => l.supports_formality === false)).toBe(true);
  });

  it('answers an unknown type with 400, and no glossary language pairs', async () => {
    const bad = await app.inject('/v2/languages?type=glossary');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toBe("Value for 'type' not supported.");
    expect((await app.inject('/v2/glossary-language-pairs')).json()).toEqual({ supported_languages: [] });
  });
});

describe('DeepL: keys, quota, usage and rate limit', () => {
  let keyed: FastifyInstance;
  beforeAll(async () => {
    keyed = await makeApp({ apiKeys: [KEY, OTHER_KEY], characterQuota: 100, rateLimitMax: 12, rateLimitWindowMs: 60_000 });
  });
  afterAll(async () => {
    await keyed.close();
  });
  const as = (key: string) => ({ authorization: `DeepL-Auth-Key ${key}` });

  it('takes the key as DeepL-Auth-Key or Bearer, and answers 403 {message} without it or with an unknown one', async () => {
    const none = await keyed.inject('/v2/usage');
    expect(none.statusCode).toBe(403);
    expect(none.json().message).toBe('Forbidden');
    expect((await keyed.inject({ url: '/v2/usage', headers: as('not-a-key-0123456789') })).statusCode).toBe(403);
    expect((await keyed.inject({ url: '/v2/languages', headers: as(KEY) })).statusCode).toBe(200);
    expect((await keyed.inject({ url: '/v2/languages', headers: { authorization: `Bearer ${KEY}` } })).statusCode).toBe(200);
    // /v1 keeps Bearer only.
    expect((await keyed.inject({ url: '/v1/languages', headers: as(KEY) })).statusCode).toBe(401);
  });

  it('counts characters per key in /v2/usage and answers 456 for a request that would pass the quota, counting nothing for it', async () => {
    const sixty = 'Le renard brun rapide saute par-dessus le chien paresseux ok'; // 60 characters
    expect([...sixty]).toHaveLength(60);
    const first = await postForm(keyed, '/v2/translate', { text: sixty, target_lang: 'DE' }, as(KEY));
    expect(first.statusCode).toBe(200);
    expect((await keyed.inject({ url: '/v2/usage', headers: as(KEY) })).json()).toEqual({ character_count: 60, character_limit: 100 });
    const over = await postForm(keyed, '/v2/translate', { text: sixty, target_lang: 'DE' }, as(KEY));
    expect(over.statusCode).toBe(456);
    expect(over.json()).toEqual({ message: 'Quota Exceeded', detail: '60 of 100 characters used; this request has 60' });
    expect((await keyed.inject({ url: '/v2/usage', headers: as(KEY) })).json().character_count).toBe(60);
    // Another key is another account.
    expect((await keyed.inject({ url: '/v2/usage', headers: as(OTHER_KEY) })).json()).toEqual({ character_count: 0, character_limit: 100 });
    expect((await postForm(keyed, '/v2/translate', { text: sixty, target_lang: 'DE' }, as(OTHER_KEY))).statusCode).toBe(200);
  });

  it('answers past the rate limit with 429 {message: "Too many requests"}', async () => {
    let last;
    for (let i = 0; i < 14; i++) last = await keyed.inject({ url: '/v2/glossary-language-pairs', headers: as(KEY) });
    expect(last!.statusCode).toBe(429);
    expect(last!.json().message).toBe('Too many requests');
  });
});

describe('DeepL: failures', () => {
  it('gives back the characters of a request that failed (queue full: 503), and reports no limit without a quota', async () => {
    const tight = await makeApp({ maxQueue: 1, cacheBytes: 0 });
    const res = await post(tight, '/v2/translate', { text: [FR, DE], target_lang: 'EN-US' });
    expect(res.statusCode).toBe(503);
    expect(res.json().message).toBe('Service unavailable');
    expect(res.headers['retry-after']).toBe('1');
    expect((await tight.inject('/v2/usage')).json()).toEqual({ character_count: 0, character_limit: 1_000_000_000_000 });
    await tight.close();
  });

  it('refuses new work while the server drains with 503', async () => {
    const draining = await makeApp();
    draining.xalma.lifecycle.markDraining();
    const res = await post(draining, '/v2/translate', { text: [FR], target_lang: 'DE' });
    expect(res.statusCode).toBe(503);
    expect(res.headers.connection).toBe('close');
    await draining.close();
  });
});
