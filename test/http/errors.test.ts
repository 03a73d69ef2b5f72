import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST, closeShared, makeApp, post } from './helpers.ts';

let app: FastifyInstance;
beforeAll(async () => {
  app = await makeApp({ maxItems: 4, maxTextChars: 100, bodyLimitBytes: 2048, maxBeams: 4 });
});
afterAll(async () => {
  await app.close();
  await closeShared();
});

async function expectError(res: { statusCode: number; json(): any }, status: number, code: string) {
  expect({ status: res.statusCode, code: res.json().error?.code }).toEqual({ status, code });
  expect(typeof res.json().error.message).toBe('string');
  return res.json().error;
}

const translate = (body: unknown, headers?: Record<string, string>) => post(app, '/v1/translate', body, headers);

describe('coded errors', () => {
  it('bad JSON -> 400 BAD_JSON', async () => {
    await expectError(await translate('{"text": "hi", '), 400, 'BAD_JSON');
    await expectError(await translate(''), 400, 'BAD_JSON');
  });

  it('non-JSON media type -> 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/translate', payload: 'text=hi', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    await expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('body over the limit -> 413 BODY_TOO_LARGE', async () => {
    await expectError(await translate({ text: 'a'.repeat(5000), target: 'en' }), 413, 'BODY_TOO_LARGE');
  });

  it('unknown route -> 404 NOT_FOUND', async () => {
    await expectError(await app.inject('/v1/nope'), 404, 'NOT_FOUND');
    await expectError(await app.inject({ method: 'GET', url: '/v1/translate' }), 404, 'NOT_FOUND');
  });

  it('missing target -> 400 LANGUAGE_MISSING', async () => {
    const err = await expectError(await translate({ text: 'hi' }), 400, 'LANGUAGE_MISSING');
    expect(err.details.field).toBe('body/target');
  });

  it('unknown language -> 400 LANGUAGE_INVALID; known but unsupported -> LANGUAGE_UNSUPPORTED', async () => {
    const invalid = await translate({ text: 'hi', target: '12!?' });
    expect(invalid.statusCode).toBeGreaterThanOrEqual(400);
    expect(invalid.statusCode).toBeLessThan(500);
    expect(invalid.json().error.code).toBe('LANGUAGE_INVALID');
    const unsupported = await translate({ text: 'hi', target: 'sw' });
    expect(unsupported.statusCode).toBeLessThan(500);
    expect(unsupported.json().error.code).toBe('LANGUAGE_UNSUPPORTED');
    const badSource = await translate({ text: 'hi', source: 'sw', target: 'en' });
    expect(badSource.json().error.code).toBe('LANGUAGE_UNSUPPORTED');
  });

  it('undetectable source -> SOURCE_UNDETECTED (4xx)', async () => {
    const res = await translate({ text: '12345 67890', target: 'de' });
    expect(res.json().error.code).toBe('SOURCE_UNDETECTED');
    expect(res.statusCode).toBeLessThan(500);
  });

  it('empty text -> 400 TEXT_EMPTY (string, whitespace, empty array, empty item)', async () => {
    await expectError(await translate({ text: '', target: 'en' }), 400, 'TEXT_EMPTY');
    await expectError(await translate({ text: '   ', target: 'en' }), 400, 'TEXT_EMPTY');
    await expectError(await translate({ text: [], target: 'en' }), 400, 'TEXT_EMPTY');
    const err = await expectError(await translate({ text: ['ok', ''], target: 'en' }), 400, 'TEXT_EMPTY');
    expect(err.details.index).toBe(1);
    await expectError(await post(app, '/v1/detect', { text: '' }), 400, 'TEXT_EMPTY');
  });

  it('text over the limit -> 400 TEXT_TOO_LONG naming the item', async () => {
    const err = await expectError(await translate({ text: ['short', 'x'.repeat(101)], target: 'en' }), 400, 'TEXT_TOO_LONG');
    expect(err.details).toMatchObject({ index: 1, length: 101, limit: 100 });
  });

  it('too many items -> 400 TOO_MANY_ITEMS', async () => {
    await expectError(await translate({ text: ['a', 'b', 'c', 'd', 'e'], target: 'en' }), 400, 'TOO_MANY_ITEMS');
    await expectError(await post(app, '/v1/detect', { text: ['a', 'b', 'c', 'd', 'e'] }), 400, 'TOO_MANY_ITEMS');
  });

  it('wrong types and unknown fields -> 400 INVALID_REQUEST with the field path', async () => {
    expect((await expectError(await translate({ text: 5, target: 'en' }), 400, 'INVALID_REQUEST')).details.field).toMatch(/^body\/text/);
    expect((await expectError(await translate({ text: ['a', 3], target: 'en' }), 400, 'INVALID_REQUEST')).details.field).toMatch(/^body\/text/);
    expect((await expectError(await translate({ text: 'a', target: 7 }), 400, 'INVALID_REQUEST')).details.field).toBe('body/target');
    expect((await expectError(await translate({ text: 'a', target: 'en', colour: 'red' }), 400, 'INVALID_REQUEST')).details.field).toBe('body/colour');
    await expectError(await translate([1, 2]), 400, 'INVALID_REQUEST');
    await expectError(await translate('"just a string"'), 400, 'INVALID_REQUEST');
  });

  it('bad options -> 400 OPTIONS_INVALID', async () => {
    const bad = [
      { beams: 0 },
      { beams: 'two' },
      { beams: 5 }, // over maxBeams 4
      { maxNewTokens: 65 }, // over maxNewTokensLimit 64
      { maxNewTokens: 1.5 },
      { sample: true, beams: 2 },
      { temperature: 0.5 }, // without sample
      { topP: 1.5, sample: true },
      { seed: -1, sample: true },
      { unknown: 1 },
    ];
    for (const options of bad) {
      const res = await translate({ text: 'hi', target: 'de', options });
      expect({ options, code: res.json().error?.code, status: res.statusCode }).toEqual({ options, code: 'OPTIONS_INVALID', status: 400 });
    }
  });

  it('deadline passed -> 504 DEADLINE_EXCEEDED', async () => {
    const slow = await makeApp({ requestTimeoutMs: 1, maxNewTokensLimit: 512 });
    try {
      const res = await post(slow, '/v1/translate', { text: 'Ein langer Satz, der übersetzt werden soll.', source: 'de', target: 'en', options: { maxNewTokens: 400 } });
      await expectError(res, 504, 'DEADLINE_EXCEEDED');
    } finally {
      await slow.close();
    }
  });

  it('queue full -> 503 QUEUE_FULL with Retry-After', async () => {
    const small = await makeApp({ maxQueue: 2, retryAfterSeconds: 3 });
    try {
      const res = await post(small, '/v1/translate', { text: ['eins', 'zwei', 'drei'], source: 'de', target: 'en', options: FAST });
      await expectError(res, 503, 'QUEUE_FULL');
      expect(res.headers['retry-after']).toBe('3');
      expect(small.xalma.scheduler.depth).toBe(0);
    } finally {
      await small.close();
    }
  });

  it('not warm yet -> /ready 503 NOT_READY; draining -> 503 SHUTTING_DOWN', async () => {
    const cold = await makeApp({}, { warm: false });
    try {
      const res = await cold.inject('/ready');
      await expectError(res, 503, 'NOT_READY');
      expect((await cold.inject('/health')).statusCode).toBe(200);
      cold.xalma.lifecycle.markDraining();
      await expectError(await cold.inject('/ready'), 503, 'SHUTTING_DOWN');
      const refused = await post(cold, '/v1/translate', { text: 'hi', target: 'de' });
      await expectError(refused, 503, 'SHUTTING_DOWN');
      expect(refused.headers.connection).toBe('close');
    } finally {
      await cold.close();
    }
  });
});

describe('API keys and rate limits', () => {
  const KEY = 'k'.repeat(24);
  const OTHER = 'o'.repeat(24);

  it('missing or wrong key -> 401 API_KEY_INVALID; health and metrics stay open', async () => {
    const secured = await makeApp({ apiKeys: [KEY, OTHER] });
    try {
      await expectError(await post(secured, '/v1/detect', { text: 'hallo welt' }), 401, 'API_KEY_INVALID');
      await expectError(await post(secured, '/v1/detect', { text: 'hallo welt' }, { authorization: 'Bearer wrong' }), 401, 'API_KEY_INVALID');
      await expectError(await secured.inject({ url: '/v1/languages', headers: { authorization: KEY } }), 401, 'API_KEY_INVALID');
      expect((await post(secured, '/v1/detect', { text: 'hallo welt' }, { authorization: `Bearer ${KEY}` })).statusCode).toBe(200);
      expect((await secured.inject('/health')).statusCode).toBe(200);
      expect((await secured.inject('/metrics')).statusCode).toBe(200);
    } finally {
      await secured.close();
    }
  });

  it('over the per-key limit -> 429 RATE_LIMITED, counted per key', async () => {
    const limited = await makeApp({ apiKeys: [KEY, OTHER], rateLimitMax: 2, rateLimitWindowMs: 60_000 });
    try {
      const as = (key: string) => limited.inject({ url: '/v1/languages', headers: { authorization: `Bearer ${key}` } });
      expect((await as(KEY)).statusCode).toBe(200);
      expect((await as(KEY)).statusCode).toBe(200);
      const res = await as(KEY);
      await expectError(res, 429, 'RATE_LIMITED');
      expect(res.headers['retry-after']).toBeDefined();
      expect((await as(OTHER)).statusCode).toBe(200);
      // a bad key is refused by auth, not counted against anyone
      await expectError(await as('x'.repeat(24)), 401, 'API_KEY_INVALID');
    } finally {
      await limited.close();
    }
  });
});
