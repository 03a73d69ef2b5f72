/**
 * Properties of the compatible APIs' request parsing (fast-check): form bodies carry any text
 * through unchanged and in order, and no body, however malformed, gets a 5xx or an error outside
 * the API's own shape.
 */
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeShared, makeApp } from './helpers.ts';

let app: FastifyInstance;
beforeAll(async () => {
  // Tiny budgets: random valid bodies do reach the engine.
  app = await makeApp({ defaultMaxNewTokens: 2, maxNewTokensLimit: 4, maxTextChars: 200, maxItems: 4 });
});
afterAll(async () => {
  await app.close();
  await closeShared();
});

const formBody = (fields: Array<[string, string]>) => new URLSearchParams(fields).toString();
/**
 * How a generated value becomes a form field: strings as they are, anything else as JSON.
 * `String(x)` would call the value's own `toString`, which fast-check sets to 0 at times.
 */
const formField = (x: unknown): string => (typeof x === 'string' ? x : (JSON.stringify(x) ?? 'undefined'));
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
/** Texts of whole code points (a lone surrogate cannot be sent in a form). */
const anyText = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 });

describe('compatible APIs: form bodies', () => {
  it('DeepL: repeated `text` fields come back as sent, in order, when source and target are the same language', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(anyText, { minLength: 1, maxLength: 4 }), async (texts) => {
        const payload = formBody([...texts.map((t): [string, string] => ['text', t]), ['source_lang', 'DE'], ['target_lang', 'DE']]);
        const res = await app.inject({ method: 'POST', url: '/v2/translate', payload, headers: FORM });
        expect(res.statusCode).toBe(200);
        // An all-whitespace text is answered empty, as DeepL does.
        expect(res.json().translations.map((t: { text: string }) => t.text)).toEqual(texts.map((t) => (t.trim() === '' ? '' : t)));
      }),
      { numRuns: 60 },
    );
  });

  it('LibreTranslate: a form `q` comes back as sent, with CR and CRLF line ends as LF, when source and target are the same', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(anyText, fc.constantFrom('a\r\nb', 'a\rb\r\n', '\r\n x')), async (q) => {
        const res = await app.inject({ method: 'POST', url: '/translate', payload: formBody([['q', q], ['source', 'fr'], ['target', 'fr']]), headers: FORM });
        expect(res.statusCode).toBe(200);
        const lf = q.replace(/\r\n?/g, '\n');
        expect(res.json().translatedText).toBe(lf.trim() === '' ? '' : lf);
      }),
      { numRuns: 60 },
    );
  });
});

const language = fc.oneof(fc.constantFrom('en', 'DE', 'EN-GB', 'auto', 'xx', '', 'pt-BR'), fc.string({ maxLength: 8 }));
const value = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.array(fc.string({ maxLength: 12 }), { maxLength: 5 }),
  fc.array(fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.constant(null), fc.object()), { maxLength: 4 }),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
);
/** Markup and placeholders, well-formed or not, that send a request down the markup path. */
const markup = fc.oneof(
  fc.constantFrom('<p>Hello <b>world</b></p>', 'Hi <x id="1"/>, %s', '{n, plural, one {# item} other {# items}}', '<div>unclosed <b>bold', '</span>&amp;<', '<script>x'),
  fc.array(fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('<', '>', '&', '{', '}', '<b>', '</b>', '<!--', '%')), { maxLength: 8 }).map((a) => a.join('')),
);
const deeplBody = fc.oneof(
  fc.record(
    {
      text: fc.oneof(value, markup),
      target_lang: language,
      source_lang: language,
      formality: value,
      tag_handling: fc.oneof(fc.constantFrom('html', 'xml'), value),
      ignore_tags: fc.oneof(fc.constantFrom('x', 'code,kbd', 'a b'), value),
      non_splitting_tags: value,
      split_sentences: value,
      glossary_id: value,
      junk: fc.anything(),
    },
    { requiredKeys: [] },
  ),
  fc.jsonValue(),
);
const libreBody = fc.oneof(
  fc.record({ q: fc.oneof(value, markup), source: language, target: language, format: fc.oneof(fc.constant('html'), value), alternatives: value, api_key: value, apiKey: value }, { requiredKeys: [] }),
  fc.jsonValue(),
);

describe('compatible APIs: malformed bodies', () => {
  it('never get a 5xx, and every error is in the API\'s own shape', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          deeplBody.map((b) => ['/v2/translate', b] as const),
          fc.jsonValue().map((b) => ['/v2/languages', b] as const),
          libreBody.map((b) => ['/translate', b] as const),
          libreBody.map((b) => ['/detect', b] as const),
        ),
        fc.boolean(),
        async ([url, body], asForm) => {
          const flat = body !== null && typeof body === 'object' && !Array.isArray(body);
          const res =
            asForm && flat
              ? await app.inject({ method: 'POST', url, payload: formBody(Object.entries(body).flatMap(([k, v]) => [v].flat().map((x): [string, string] => [k, formField(x)]))), headers: FORM })
              : await app.inject({ method: 'POST', url, payload: JSON.stringify(body) ?? 'null', headers: { 'content-type': 'application/json' } });
          expect(res.statusCode).toBeLessThan(500);
          if (res.statusCode >= 400) {
            const error = res.json();
            if (url.startsWith('/v2/')) expect(typeof error.message).toBe('string');
            else expect(Object.keys(error)).toEqual(['error']);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
