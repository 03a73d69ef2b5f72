/**
 * A text up to maxTextChars translates whole: split into sentences, one engine row each, and
 * put back around the original whitespace. The demo model outputs noise, so these tests check
 * structure (separators in place, one row per sentence), never the words.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeShared, makeApp, post, sharedRuntime } from './helpers.ts';

const SENTENCE_POOL = [
  'The committee will meet again on Tuesday to discuss the budget.',
  'Prices rose by three percent in May!',
  'Where is the station?',
  'She walked to the market and bought fresh bread, cheese and a bottle of wine.',
  'Nobody expected the storm to arrive so early in the season.',
];

/** Paragraphs of sentences separated by one space, paragraphs by a blank line, one paragraph with a single line break. */
function longText(maxChars: number): { text: string; sentences: number; separators: string[] } {
  const paragraphs: string[][] = [];
  let length = 0;
  let n = 0;
  while (length < maxChars - 200) {
    const paragraph: string[] = [];
    for (let k = 0; k < 4; k++) paragraph.push(SENTENCE_POOL[n++ % SENTENCE_POOL.length]);
    paragraphs.push(paragraph);
    length += paragraph.join(' ').length + 2;
  }
  const separators = [''];
  let text = '';
  paragraphs.forEach((p, i) => {
    p.forEach((s, j) => {
      text += s;
      const sep = j < p.length - 1 ? (i === 1 && j === 1 ? '\n' : ' ') : i < paragraphs.length - 1 ? '\n\n' : '\n';
      text += sep;
      separators.push(sep);
    });
  });
  return { text, sentences: n, separators };
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

let app: FastifyInstance;
beforeAll(async () => {
  app = await makeApp();
});
afterAll(async () => {
  await app.close();
  await closeShared();
});

describe('texts longer than one sentence', () => {
  const { text, sentences, separators } = longText(4000);

  it('a ~3900-character multi-paragraph text returns 200 with every separator in place and one row per sentence', async () => {
    expect(text.length).toBeGreaterThan(3800);
    expect(text.length).toBeLessThanOrEqual(4000);
    const { engine } = await sharedRuntime();
    const rowsBefore = engine.stats().rows;
    const res = await post(app, '/v1/translate', { text, source: 'en', target: 'de', options: { maxNewTokens: 2 } });
    expect(res.statusCode, res.body).toBe(200);
    const t = res.json().translations[0];
    expect(engine.stats().rows - rowsBefore).toBe(sentences);
    expect(t.outputTokens).toBeGreaterThan(2);
    expect(t.outputTokens).toBeLessThanOrEqual(2 * sentences);
    // The output is noise between the input's separators, in order: every paragraph break kept.
    const shape = new RegExp(`^${separators.map(escape).join('[\\s\\S]*?')}$`);
    expect(t.text).toMatch(shape);
    expect(t.text.split('\n\n').length).toBeGreaterThanOrEqual(text.split('\n\n').length);
    expect(['eos', 'length']).toContain(t.finishReason);
  });

  it('a pivot pair runs both hops per sentence and keeps the structure', async () => {
    const short = 'Le chat dort. Le chien mange.\n\nIl pleut.';
    const { engine } = await sharedRuntime();
    const rowsBefore = engine.stats().rows;
    const res = await post(app, '/v1/translate', { text: short, source: 'fr', target: 'ru', options: { maxNewTokens: 2 } });
    expect(res.statusCode, res.body).toBe(200);
    expect(engine.stats().rows - rowsBefore).toBe(6);
    expect(res.json().translations[0].text).toMatch(/^[\s\S]*? [\s\S]*?\n\n[\s\S]*?$/);
  });

  it('the LibreTranslate and DeepL routes take the same long text', async () => {
    const lt = await app.inject({ method: 'POST', url: '/translate', payload: { q: text, source: 'en', target: 'de' } });
    expect(lt.statusCode, lt.body).toBe(200);
    expect(lt.json().translatedText).toMatch(/\n\n/);
    const dl = await app.inject({ method: 'POST', url: '/v2/translate', payload: { text: [text], source_lang: 'EN', target_lang: 'DE' } });
    expect(dl.statusCode, dl.body).toBe(200);
    expect(dl.json().translations[0].text).toMatch(/\n\n/);
  });
});
