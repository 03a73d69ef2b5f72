/**
 * Markup and placeholders through the three APIs (fastify.inject, the real engine on the demo
 * model): /v1 `format`, LibreTranslate `format: "html"`, DeepL `tag_handling` with ignore_tags.
 *
 * The demo model outputs noise, which makes the checks sharp: a kept piece survives only if it
 * never went to the model. Each test checks that
 *  - every tag, attribute, entity and placeholder of the input is in the output, in order, as
 *    written (hand-picked fragments, independent of the splitter);
 *  - the output equals the input's kept pieces around the /v1 plain-text translations of its
 *    runs (so each run went to the engine as a row of its own, and nothing else did);
 *  - each run came back changed (the engine translated it) and the engine ran one row per sentence of the runs.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { joinPieces, splitMarkup, type MarkupOptions } from '../../src/languages/index.ts';
import { closeShared, makeApp, post, sharedRuntime } from './helpers.ts';

let app: FastifyInstance;
beforeAll(async () => {
  app = await makeApp();
});
afterAll(async () => {
  await app.close();
  await closeShared();
});

/** A password-reset e-mail as Mastodon-style apps send them: attributes with entities, a comment, a placeholder, nested inline tags. */
const EMAIL =
  '<p>Hi {{ name }},</p>\n' +
  '<p>Someone asked to reset the password of your account on <strong>Example&nbsp;Social</strong>. If this wasn&#39;t you, ignore this e-mail.</p>\n' +
  '<p><a href="https://social.example/auth/password/edit?reset_password_token=abc&amp;locale=en" style="color:#2b90d9;font-weight:bold" target="_blank">Change my <em>password</em></a><br/>\n' +
  '<!-- footer --><small>&copy; 2024 Example Social &middot; <a href="https://social.example/settings">Settings</a></small></p>';
const EMAIL_KEPT = [
  '<p>', ' {{ name }},</p>\n<p>', ' <strong>', '</strong>', '</p>\n<p><a href="https://social.example/auth/password/edit?reset_password_token=abc&amp;locale=en" style="color:#2b90d9;font-weight:bold" target="_blank">',
  ' <em>', '</em></a><br/>\n<!-- footer --><small>', ' <a href="https://social.example/settings">', '</a></small></p>',
];

/** What /v1 answers for one text as plain text (default options, the same as the compatible APIs use). */
async function v1Plain(text: string, source: string, target: string): Promise<string> {
  const res = await post(app, '/v1/translate', { text, source, target });
  expect(res.statusCode, res.body).toBe(200);
  return res.json().translations[0].text;
}

/** The answer expected for `input`: its kept pieces around the /v1 translations of its runs, each run changed by the engine. */
async function expected(input: string, markup: MarkupOptions, source: string, target: string): Promise<string> {
  const pieces = splitMarkup(input, markup);
  const runs = pieces.flatMap((p) => (p.kind === 'translate' ? [p.text] : []));
  const translations = await Promise.all(runs.map((r) => v1Plain(r, source, target)));
  translations.forEach((t, i) => expect(t, `run ${JSON.stringify(runs[i])} went to the engine`).not.toBe(runs[i]));
  return joinPieces(pieces, translations, markup.format);
}

/** Every fragment in `out`, in this order, as written. */
function expectInOrder(out: string, fragments: readonly string[]): void {
  let at = 0;
  for (const f of fragments) {
    const found = out.indexOf(f, at);
    expect(found, `${JSON.stringify(f)} after offset ${at} in ${JSON.stringify(out)}`).toBeGreaterThanOrEqual(0);
    at = found + f.length;
  }
}

async function engineRows(): Promise<number> {
  return (await sharedRuntime()).engine.stats().rows;
}

describe('/v1/translate format', () => {
  it('html: translates the text nodes of an HTML e-mail, one row per run, and keeps tags, attributes, entities, comments and placeholders byte for byte', async () => {
    const before = await engineRows();
    const res = await post(app, '/v1/translate', { text: EMAIL, source: 'en', target: 'de', format: 'html' });
    expect(res.statusCode, res.body).toBe(200);
    // Hi | Someone asked ... on | Example Social | If this wasn't you, ignore this e-mail. | Change my | password | © 2024 Example Social · | Settings
    // (the "." before "If" is a sentence of its own without a letter: kept, not a row)
    expect((await engineRows()) - before).toBe(8);
    const t = res.json().translations[0];
    expectInOrder(t.text, EMAIL_KEPT);
    expect(t.text).toBe(await expected(EMAIL, { format: 'html' }, 'en', 'de'));
    expect(t.text).not.toContain('password of your account');
    expect(t.outputTokens).toBeGreaterThan(0);
    // The same request again is a cache hit on the whole text.
    const again = await post(app, '/v1/translate', { text: EMAIL, source: 'en', target: 'de', format: 'html' });
    expect(again.json().translations[0]).toEqual({ ...t, cached: true });
  });

  it('text (the default): printf, Python, ICU and Weblate placeholders survive; only the words between them are translated', async () => {
    const texts = [
      '%(count)s files were deleted from %(folder)s.',
      'Uploaded %1$s of %2$s (%3$d%%)',
      'You have {count, plural, one {# new follower} other {# new followers}}',
      'Hello <x id="0"/>, your post was boosted by <x id="1"></x>!',
    ];
    const res = await post(app, '/v1/translate', { text: texts, source: 'en', target: 'fr' });
    expect(res.statusCode, res.body).toBe(200);
    const out = res.json().translations.map((t: { text: string }) => t.text);
    expectInOrder(out[0], ['%(count)s ', ' %(folder)s']);
    expectInOrder(out[1], [' %1$s ', ' %2$s (%3$d%%)']);
    expectInOrder(out[2], [' {count, plural, one {# ', '} other {# ', '}}']);
    expectInOrder(out[3], [' <x id="0"/>', ' <x id="1"></x>!']);
    for (let i = 0; i < texts.length; i++) expect(out[i]).toBe(await expected(texts[i], { format: 'text' }, 'en', 'fr'));
  });

  it('a text of placeholders and digits alone comes back as it is without a row; with source auto it is still 422 SOURCE_UNDETECTED', async () => {
    const before = await engineRows();
    const res = await post(app, '/v1/translate', { text: ['%1$s: %2$d', '<br/>{{ count }}'], source: 'en', target: 'de', format: 'html' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().translations.map((t: { text: string }) => t.text)).toEqual(['%1$s: %2$d', '<br/>{{ count }}']);
    expect(res.json().translations[0]).toMatchObject({ outputTokens: 0, finishReason: 'eos' });
    expect((await engineRows()) - before).toBe(0);
    const auto = await post(app, '/v1/translate', { text: '<b>{name}</b> 42', target: 'de', format: 'html' });
    expect(auto.statusCode).toBe(422);
    expect(auto.json().error.code).toBe('SOURCE_UNDETECTED');
  });

  it('detects the source from the text runs, not from the markup', async () => {
    const res = await post(app, '/v1/translate', { text: '<div class="container"><p style="margin:0">Dziękuję bardzo za pomoc i wsparcie.</p></div>', target: 'en', format: 'html' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().translations[0].source).toMatchObject({ language: 'pl', detected: true });
    expectInOrder(res.json().translations[0].text, ['<div class="container"><p style="margin:0">', '</p></div>']);
  });

  it('xml with ignoreTags keeps the ignored content; malformed markup (unclosed, stray end tags, a bare <) is answered, its tags kept', async () => {
    const xml = '<doc><p>Run <code>npm install</code>, then open <x id="3"/>.</p><note>Keep reading</note></doc>';
    const res = await post(app, '/v1/translate', { text: xml, source: 'en', target: 'de', format: 'xml', ignoreTags: ['code', 'note'] });
    expect(res.statusCode, res.body).toBe(200);
    const out = res.json().translations[0].text;
    expectInOrder(out, ['<doc><p>', ' <code>npm install</code>', ' <x id="3"/>.</p><note>Keep reading</note></doc>']);
    expect(out).toBe(await expected(xml, { format: 'xml', ignoreTags: ['code', 'note'] }, 'en', 'de'));

    const broken = '<div><p>Unclosed paragraph <b>bold text <i>and italic</div> after </span> it, 3 < 4';
    const bad = await post(app, '/v1/translate', { text: broken, source: 'en', target: 'de', format: 'html' });
    expect(bad.statusCode, bad.body).toBe(200);
    const b = bad.json().translations[0].text;
    expectInOrder(b, ['<div><p>', ' <b>', ' <i>', '</div>', ' </span>']);
    expect(b).toBe(await expected(broken, { format: 'html' }, 'en', 'de'));
  });

  it('refuses an unknown format and a malformed ignoreTags with 400 INVALID_REQUEST', async () => {
    for (const body of [{ format: 'markdown' }, { format: 'html', ignoreTags: ['<b>'] }, { format: 'html', ignoreTags: 'code' }]) {
      const res = await post(app, '/v1/translate', { text: 'Hello', source: 'en', target: 'de', ...body });
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json().error.code).toBe('INVALID_REQUEST');
    }
  });

  it('counts the markup toward the text limit, and every run of a request as a row toward the queue (all or nothing)', async () => {
    const small = await makeApp({ maxTextChars: 40, maxQueue: 3, cacheBytes: 0 });
    const long = await post(small, '/v1/translate', { text: '<p class="lead">Hi</p><p class="footer">Bye</p>', source: 'en', target: 'de', format: 'html' });
    expect(long.statusCode).toBe(400);
    expect(long.json().error.code).toBe('TEXT_TOO_LONG');
    const three = await post(small, '/v1/translate', { text: ['<b>One</b> two', '<i>three</i>'], source: 'en', target: 'de', format: 'html' });
    expect(three.statusCode, three.body).toBe(200);
    const four = await post(small, '/v1/translate', { text: ['<b>One</b> two', '<i>three</i> four'], source: 'en', target: 'de', format: 'html' });
    expect(four.statusCode).toBe(503);
    expect(four.json().error).toMatchObject({ code: 'QUEUE_FULL', details: { needed: 4 } });
    await small.close();
  });
});

describe('LibreTranslate format html', () => {
  it('translates nested inline tags and <br/> around the kept markup, as /v1 does', async () => {
    const q = ['<p>Click <a href="/confirm?id=7&amp;t=1"><strong>here</strong></a> to <em>confirm</em> your e-mail.<br/>Thanks,<br>The team</p>', 'Merci <b>beaucoup</b> !'];
    const res = await post(app, '/translate', { q, source: 'en', target: 'de', format: 'html' });
    expect(res.statusCode, res.body).toBe(200);
    const out = res.json().translatedText;
    expectInOrder(out[0], ['<p>', ' <a href="/confirm?id=7&amp;t=1"><strong>', '</strong></a> ', ' <em>', '</em> ', '<br/>', '<br>', '</p>']);
    expect(out[0]).toBe(await expected(q[0], { format: 'html' }, 'en', 'de'));
    const v1 = await post(app, '/v1/translate', { text: q, source: 'en', target: 'de', format: 'html' });
    expect(out).toEqual(v1.json().translations.map((t: { text: string }) => t.text));
  });

  it('detects the source of an html text from its runs and answers a text of markup alone unchanged', async () => {
    const res = await post(app, '/translate', { q: ['<p>Le renard brun rapide saute par-dessus le chien paresseux.</p>', '<img src="a.png" alt="x"/>'], source: 'auto', target: 'de', format: 'html' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().detectedLanguage[0].language).toBe('fr');
    expect(res.json().translatedText[1]).toBe('<img src="a.png" alt="x"/>');
    expect(res.json().detectedLanguage[1]).toEqual({ confidence: 0, language: 'en' });
  });

  it('keeps placeholders with format text too (what Weblate\'s LibreTranslate backend sends)', async () => {
    const res = await post(app, '/translate', { q: '%(count)s new messages from {user}', source: 'en', target: 'de' });
    expect(res.statusCode).toBe(200);
    expectInOrder(res.json().translatedText, ['%(count)s ', ' {user}']);
  });
});

describe('DeepL tag_handling', () => {
  it('xml with ignore_tags x, as Weblate sends placeholders: the <x> elements and their ids survive', async () => {
    const text = 'Your post <x id="0"></x> was favourited by <x id="1"></x> and <x id="2"></x> others.';
    const res = await post(app, '/v2/translate', { text: [text], source_lang: 'EN', target_lang: 'DE', tag_handling: 'xml', ignore_tags: ['x'], formality: 'default' });
    expect(res.statusCode, res.body).toBe(200);
    const out = res.json().translations[0].text;
    expectInOrder(out, [' <x id="0"></x> ', ' <x id="1"></x> ', ' <x id="2"></x> ']);
    expect(out).toBe(await expected(text, { format: 'xml', ignoreTags: ['x'] }, 'en', 'de'));
  });

  it('html from a form body with comma-separated ignore_tags; splitting and non-splitting tags accepted', async () => {
    const text = '<p>Type <kbd>Ctrl</kbd>+<kbd>S</kbd> to save the <var>file</var> now.</p>';
    const payload = new URLSearchParams({ text, source_lang: 'EN', target_lang: 'FR', tag_handling: 'html', ignore_tags: 'kbd,var', non_splitting_tags: 'b,i', splitting_tags: 'p' }).toString();
    const res = await app.inject({ method: 'POST', url: '/v2/translate', payload, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(res.statusCode, res.body).toBe(200);
    const out = res.json().translations[0].text;
    expectInOrder(out, ['<p>', ' <kbd>Ctrl</kbd>+<kbd>S</kbd> ', ' <var>file</var> ', '</p>']);
    expect(out).toBe(await expected(text, { format: 'html', ignoreTags: ['kbd', 'var'] }, 'en', 'fr'));
  });

  it.each([
    [{ tag_handling: 'html', ignore_tags: [3] }, "Value for 'ignore_tags' not supported."],
    [{ tag_handling: 'html', ignore_tags: ['a b'] }, "Value for 'ignore_tags' not supported."],
    [{ tag_handling: 'xml', splitting_tags: { p: 1 } }, "Value for 'splitting_tags' not supported."],
    [{ tag_handling: 'markdown' }, "Value for 'tag_handling' not supported."],
  ])('answers %j with 400 and DeepL\'s message', async (fields, message) => {
    const res = await post(app, '/v2/translate', { text: ['<p>Hello</p>'], source_lang: 'EN', target_lang: 'DE', ...fields });
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toBe(message);
  });
});
