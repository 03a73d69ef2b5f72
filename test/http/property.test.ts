import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeShared, makeApp, post } from './helpers.ts';

let app: FastifyInstance;
beforeAll(async () => {
  // Tiny budgets: random valid bodies do reach the engine.
  app = await makeApp({ defaultMaxNewTokens: 2, maxNewTokensLimit: 4, maxTextChars: 200, maxItems: 4 });
});
afterAll(async () => {
  await app.close();
  await closeShared();
});

const language = fc.oneof(fc.constantFrom('en', 'de', 'fr', 'ja', 'auto', 'German', 'deu', 'zh-Hant', 'pt-BR', 'xx', '', 'sw'), fc.string({ maxLength: 12 }));
const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom('Guten Tag', 'Bonjour à tous', 'こんにちは', '<p>Guten <b>Tag</b></p>', '{n, plural, one {# Tag} other {# Tage}}', '<div>offen <i>%s', '&amp;<'),
  fc.array(fc.string({ maxLength: 20 }), { maxLength: 6 }),
);
const options = fc.record(
  {
    maxNewTokens: fc.oneof(fc.integer({ min: -2, max: 6 }), fc.double(), fc.string()),
    beams: fc.oneof(fc.integer({ min: -1, max: 3 }), fc.constant(null)),
    sample: fc.oneof(fc.boolean(), fc.string()),
    temperature: fc.oneof(fc.double({ noNaN: true }), fc.constant(0)),
    topP: fc.double({ noNaN: true }),
    seed: fc.oneof(fc.integer(), fc.constant(1.5)),
    junk: fc.anything(),
  },
  { requiredKeys: [] },
);
const body = fc.oneof(
  fc.record(
    { text, target: language, source: language, options, format: fc.oneof(fc.constantFrom('text', 'html', 'xml'), fc.string({ maxLength: 6 })), ignoreTags: fc.oneof(fc.array(fc.string({ maxLength: 6 }), { maxLength: 3 }), fc.string()) },
    { requiredKeys: [] },
  ),
  fc.record({ text, target: language }),
  fc.jsonValue(),
  fc.anything().map((x) => ({ text: x, target: 'en' })),
);

describe('HTTP schema property', () => {
  it('random bodies never produce a 5xx or crash the server', async () => {
    await fc.assert(
      fc.asyncProperty(body, fc.constantFrom('/v1/translate', '/v1/detect'), async (b, url) => {
        let payload: string;
        try {
          payload = JSON.stringify(b) ?? 'null';
        } catch {
          payload = '{';
        }
        const res = await post(app, url, payload);
        expect(res.statusCode, `${url} ${payload} -> ${res.body}`).toBeLessThan(500);
        expect(res.json().error?.code ?? 'ok').toBeTypeOf('string');
      }),
      { numRuns: 300 },
    );
    expect((await app.inject('/health')).statusCode).toBe(200);
  });

  it('random raw bytes as a body are refused as 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 60 }), async (raw) => {
        const res = await post(app, '/v1/translate', raw);
        expect(res.statusCode).toBeLessThan(500);
      }),
      { numRuns: 200 },
    );
  });
});
