/**
 * e2e: the real server on a loopback port driven by the real clients of the two compatible APIs
 * (deepl-node with `serverUrl`, the `libretranslate` npm package) and by requests shaped as
 * Weblate's LibreTranslate and DeepL backends send them (weblate/machinery/libretranslate.py,
 * deepl.py: JSON bodies, `api_key` in the body, `DeepL-Auth-Key`, tag_handling xml with
 * ignore_tags [x], a glossary check before translating). Nothing leaves 127.0.0.1.
 */
import * as deepl from 'deepl-node';
import { translate as libreTranslate } from 'libretranslate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { SENTENCES } from '../http/helpers.ts';
import { postJson, startTestServer } from './helpers.ts';

const KEY = 'compat-e2e-key-0123456789abcdef';
const QUOTA = 6000;
const FR = SENTENCES[3].text;
const RU = SENTENCES[2].text;

let server: RunningServer;
let translator: deepl.Translator;
beforeAll(async () => {
  server = await startTestServer({ apiKeys: [KEY], characterQuota: QUOTA });
  // No retries: a refused request must surface at once, not after backoff.
  translator = new deepl.Translator(KEY, { serverUrl: server.url, maxRetries: 0, minTimeout: 30_000, sendPlatformInfo: false });
});
afterAll(async () => {
  await server.shutdown('test done');
});

/** The /v1 answer for the same text and pair (default options, as the compatible APIs use). */
async function v1Text(text: string, source: string, target: string): Promise<string> {
  const res = await postJson(`${server.url}/v1/translate`, { text, source, target }, { headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' } });
  expect(res.status).toBe(200);
  return res.body.translations[0].text;
}

describe('deepl-node against /v2', () => {
  it('translateText: one text with detection, and an array to en-GB with a given source', async () => {
    const one = await translator.translateText(FR, null, 'de');
    expect(one.detectedSourceLang).toBe('fr');
    expect(one.text).toBe(await v1Text(FR, 'fr', 'de'));
    expect(one.billedCharacters).toBe([...FR].length);
    const many = await translator.translateText([FR, 'Merci beaucoup pour votre aide'], 'fr', 'en-GB', { formality: 'prefer_less', splitSentences: 'nonewlines', preserveFormatting: true });
    expect(many.map((r) => r.detectedSourceLang)).toEqual(['fr', 'fr']);
    expect(many[0].text).toBe(await v1Text(FR, 'fr', 'en'));
  });

  it('getSourceLanguages / getTargetLanguages / getGlossaryLanguagePairs', async () => {
    const sources = await translator.getSourceLanguages();
    expect(sources).toContainEqual({ code: 'de', name: 'German' });
    expect(sources).toHaveLength(50);
    const targets = await translator.getTargetLanguages();
    expect(targets.map((l) => l.code)).toEqual(expect.arrayContaining(['en-GB', 'en-US', 'pt-BR', 'pt-PT', 'nb', 'de']));
    expect(targets.find((l) => l.code === 'de')?.supportsFormality).toBe(false);
    expect(await translator.getGlossaryLanguagePairs()).toEqual([]);
  });

  it('getUsage counts the characters sent, against the configured quota', async () => {
    const before = await translator.getUsage();
    expect(before.character?.limit).toBe(QUOTA);
    await translator.translateText(RU, 'ru', 'uk');
    const after = await translator.getUsage();
    expect(after.character!.count - before.character!.count).toBe([...RU].length);
    expect(after.anyLimitReached()).toBe(false);
  });

  it('unsupported options get DeepL\'s error: formality more, a glossary, a malformed ignore list', async () => {
    await expect(translator.translateText(FR, null, 'de', { formality: 'more' })).rejects.toThrow("Bad request, message: 'formality' is not supported for given 'target_lang'.");
    await expect(translator.translateText(FR, 'fr', 'de', { glossary: 'def3a26b-3e84-45b3-84ae-0c0aaf3525f7' })).rejects.toThrow("Bad request, message: Value for 'glossary_id' not supported.");
    await expect(translator.translateText('<p>Bonjour</p>', 'fr', 'de', { tagHandling: 'html', ignoreTags: ['no such tag'] })).rejects.toThrow(/Value for 'ignore_tags' not supported/);
    await expect(translator.translateText(FR, null, 'tlh' as deepl.TargetLanguageCode)).rejects.toThrow("Value for 'target_lang' not supported.");
  });

  it('tagHandling html: text nodes translated, tags, attributes, entities, ignoreTags content and placeholders kept byte for byte', async () => {
    const html =
      '<p>Hello %(username)s,</p><p>Your <a href="https://social.example/@alice?tab=posts&amp;page=2" class="mention">post</a> ' +
      'was boosted <b>{count, plural, one {# time} other {# times}}</b>.<br/>Reply with <code>/unsubscribe</code>.</p>';
    const result = await translator.translateText(html, 'en', 'de', { tagHandling: 'html', ignoreTags: ['code'] });
    // The input with its text runs cut out (each run between two kept pieces), and the output likewise.
    const kept = [
      '<p>', ' %(username)s,</p><p>', ' <a href="https://social.example/@alice?tab=posts&amp;page=2" class="mention">', '</a> ',
      ' <b>{count, plural, one {# ', '} other {# ', '}}</b>.<br/>', ' <code>/unsubscribe</code>.</p>',
    ];
    const runs = ['Hello', 'Your', 'post', 'was boosted', 'time', 'times', 'Reply with'];
    expect(kept.map((k, i) => k + (runs[i] ?? '')).join('')).toBe(html);
    const shape = new RegExp(`^${kept.map((k) => k.replace(/[.*+?^\${}()|[\]\\]/g, '\\$&')).join('([\\s\\S]*?)')}$`);
    const match = shape.exec(result.text);
    expect(match, result.text).not.toBeNull();
    // Every run went to the engine: what stands in its place is the demo model's output, not the English.
    match!.slice(1).forEach((translated, i) => expect(translated).not.toBe(runs[i]));
    expect(result.detectedSourceLang).toBe('en');
    // DeepL counts the characters of the text as sent, markup included.
    expect(result.billedCharacters).toBe([...html].length);
  });

  it('a wrong key is an AuthorizationError; a request past the quota a QuotaExceededError', async () => {
    const stranger = new deepl.Translator('not-the-key-0123456789', { serverUrl: server.url, maxRetries: 0 });
    await expect(stranger.getUsage()).rejects.toBeInstanceOf(deepl.AuthorizationError);
    const { character } = await translator.getUsage();
    const tooMuch = 'a'.repeat(Math.min(4000, character!.limit - character!.count + 1));
    const texts = Array.from({ length: Math.ceil((character!.limit - character!.count + 1) / tooMuch.length) }, () => tooMuch);
    await expect(translator.translateText(texts, 'en', 'de')).rejects.toBeInstanceOf(deepl.QuotaExceededError);
    expect((await translator.getUsage()).character!.count).toBe(character!.count);
  });
});

describe('the libretranslate npm client against /translate and /languages', () => {
  it('translates with apiKey (it checks both codes against GET /languages first)', async () => {
    const text = await libreTranslate({ query: FR, source: 'fr', target: 'de', apiurl: server.url, apiKey: KEY });
    expect(text).toBe(await v1Text(FR, 'fr', 'de'));
    const auto = await libreTranslate({ query: RU, target: 'en', apiurl: server.url, apiKey: KEY });
    expect(auto).toBe(await v1Text(RU, 'ru', 'en'));
  });

  it('refuses a language the server does not list, and gets no text with a wrong key', async () => {
    await expect(libreTranslate({ query: FR, source: 'fr', target: 'tlh', apiurl: server.url, apiKey: KEY })).rejects.toThrow('This language was not found/does not exist.');
    // The client returns body.translatedText without looking at the status: the 403 body has none.
    expect(await libreTranslate({ query: FR, source: 'fr', target: 'de', apiurl: server.url, apiKey: 'wrong-key-0123456789' })).toBeUndefined();
  });
});

describe('requests shaped as Weblate\'s backends send them', () => {
  it('LibreTranslate backend: GET /languages for codes, then POST /translate {api_key, q: [...], source, target}', async () => {
    const languages = await (await fetch(`${server.url}/languages`)).json();
    const codes = languages.map((l: { code: string }) => l.code);
    expect(codes).toEqual(expect.arrayContaining(['en', 'de', 'zh']));
    const res = await postJson(`${server.url}/translate`, { api_key: KEY, q: [FR, '%(count)s'], source: 'fr', target: 'de' });
    expect(res.status).toBe(200);
    expect(res.body.translatedText).toEqual([await v1Text(FR, 'fr', 'de'), await v1Text('%(count)s', 'fr', 'de')]);
  });

  it('DeepL backend: languages by type, the glossary check, then POST /v2/translate JSON with formality, tag_handling xml and ignore_tags', async () => {
    const headers = { authorization: `DeepL-Auth-Key ${KEY}` };
    const sources = await (await fetch(`${server.url}/v2/languages?type=source`, { headers })).json();
    const targets = await (await fetch(`${server.url}/v2/languages?type=target`, { headers })).json();
    expect(sources.map((x: { language: string }) => x.language)).toContain('FR');
    expect(targets.map((x: { language: string }) => x.language)).toContain('DE');
    expect(await (await fetch(`${server.url}/v2/glossary-language-pairs`, { headers })).json()).toEqual({ supported_languages: [] });
    const body = { text: [FR, 'Merci'], source_lang: 'FR', target_lang: 'DE', formality: 'default', tag_handling: 'xml', ignore_tags: ['x'] };
    const res = await postJson(`${server.url}/v2/translate`, body, { headers: { ...headers, 'content-type': 'application/json' } });
    expect(res.status).toBe(200);
    expect(res.body.translations).toHaveLength(2);
    expect(res.body.translations[0]).toEqual({ detected_source_language: 'FR', text: await v1Text(FR, 'fr', 'de') });
    // A placeholder Weblate turned into <x id=".."/>: kept as it is, the words around it translated.
    const marked = await postJson(`${server.url}/v2/translate`, { ...body, text: ['Bonjour <x id="8"></x> ! Merci <x id="9"></x>'] }, { headers: { ...headers, 'content-type': 'application/json' } });
    expect(marked.status).toBe(200);
    const text = marked.body.translations[0].text as string;
    expect(text).toMatch(/^.+ <x id="8"><\/x> ! .+ <x id="9"><\/x>$/s);
    expect(text).not.toMatch(/Bonjour|Merci/);
  });
});
