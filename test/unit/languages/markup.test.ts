import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { detectionText, joinPieces, layoutText, markupCacheText, splitMarkup, type MarkupOptions, type Piece } from '../../../src/languages/markup.ts';

const HTML: MarkupOptions = { format: 'html' };
const XML: MarkupOptions = { format: 'xml' };

/** The source of every piece: the input, byte for byte, when the pieces tile it. */
const source = (pieces: Piece[]) => pieces.map((p) => (p.kind === 'keep' ? p.text : p.raw)).join('');
const runs = (pieces: Piece[]) => pieces.filter((p) => p.kind === 'translate').map((p) => p.text);
/** The input with every translated run cut out, runs marked by a bullet: what must survive as it is. */
const skeleton = (pieces: Piece[]) => pieces.map((p) => (p.kind === 'keep' ? p.text : '•')).join('');
/** Reassembled with each run upper-cased and wrapped, as a stand-in translation. */
const fake = (pieces: Piece[], format: MarkupOptions['format']) => joinPieces(pieces, runs(pieces).map((t) => `«${t.toUpperCase()}»`), format);

const EMAIL = [
  '<p>Hi {{ name }},</p>',
  '<p>Someone requested a password reset for your account on <strong>Example&nbsp;Social</strong>. If this wasn&#39;t you, ignore this e-mail.</p>',
  '<p><a href="https://social.example/auth/password/edit?reset_password_token=abc&amp;locale=en" style="color:#2b90d9;font-weight:bold" target="_blank">Change password</a></p>',
  '<!-- footer -->',
  '<p style="font-size:12px">&copy; 2024 Example Social &middot; <a href="https://social.example/settings">Settings</a></p>',
].join('\n');

describe('splitMarkup: plain text', () => {
  it('keeps placeholders and the whitespace around runs, and sends runs without a letter nowhere', () => {
    const pieces = splitMarkup('  %(count)s files deleted — 100%! {name} <x id="3"/> 2024  ');
    expect(runs(pieces)).toEqual(['files deleted — 100%!']);
    expect(skeleton(pieces)).toBe('  %(count)s • {name} <x id="3"/> 2024  ');
  });

  it('treats tags and entities in plain text as text (format text knows no markup)', () => {
    const pieces = splitMarkup('Tom &amp; <b>Jerry</b>');
    expect(pieces).toEqual([{ kind: 'translate', text: 'Tom &amp; <b>Jerry</b>', raw: 'Tom &amp; <b>Jerry</b>' }]);
  });

  it('keeps a text with nothing to translate whole: no translate piece at all', () => {
    for (const text of ['%s', '{count}', '12:30', '  ', '😀 → %1$s', '']) expect(runs(splitMarkup(text))).toEqual([]);
  });
});

describe('splitMarkup: html', () => {
  it('translates the text nodes of an HTML e-mail and keeps tags, attributes, comments, entities and placeholders', () => {
    const pieces = splitMarkup(EMAIL, HTML);
    expect(source(pieces)).toBe(EMAIL);
    // Entities inside a run are decoded for the model (&nbsp; becomes U+00A0, &#39; an apostrophe).
    expect(runs(pieces)).toEqual([
      'Hi',
      'Someone requested a password reset for your account on',
      'Example\u00a0Social',
      ". If this wasn't you, ignore this e-mail.",
      'Change password',
      '© 2024 Example Social ·',
      'Settings',
    ]);
    expect(skeleton(pieces)).toBe(
      [
        '<p>• {{ name }},</p>',
        '<p>• <strong>•</strong>•</p>',
        '<p><a href="https://social.example/auth/password/edit?reset_password_token=abc&amp;locale=en" style="color:#2b90d9;font-weight:bold" target="_blank">•</a></p>',
        '<!-- footer -->',
        '<p style="font-size:12px">• <a href="https://social.example/settings">•</a></p>',
      ].join('\n'),
    );
  });

  it('cuts at every inline tag, nested or void (<br/>, <br>), and keeps them as written', () => {
    const text = '<p>Click <a href="/confirm?id=7"><strong>here</strong></a> to <em>confirm</em> your e-mail.<br/>Thanks,<br>The team</p>';
    const pieces = splitMarkup(text, HTML);
    expect(runs(pieces)).toEqual(['Click', 'here', 'to', 'confirm', 'your e-mail.', 'Thanks,', 'The team']);
    expect(skeleton(pieces)).toBe('<p>• <a href="/confirm?id=7"><strong>•</strong></a> • <em>•</em> •<br/>•<br>•</p>');
  });

  it('keeps script, style, translate="no" and class notranslate content, and the named ignore tags (any case)', () => {
    const text =
      '<style>p { color: red }</style><p>Welcome to <span translate="no">Pixelfed</span> and <b class="brand notranslate">Mastodon</b>!</p>' +
      '<script>var label = "Close";</script><CODE>npm install</CODE> <kbd>Ctrl</kbd> works';
    const pieces = splitMarkup(text, { format: 'html', ignoreTags: ['code'] });
    expect(source(pieces)).toBe(text);
    expect(runs(pieces)).toEqual(['Welcome to', 'and', 'Ctrl', 'works']);
  });

  it('translates the inner texts of an ICU plural in a text node, and keeps one cut by tags whole', () => {
    const whole = splitMarkup('<p>{count, plural, one {You have # message} other {You have # messages}}</p>', HTML);
    expect(runs(whole)).toEqual(['You have', 'message', 'You have', 'messages']);
    const cut = '<p>{count, plural, one {<b>#</b> item} other {<b>#</b> items}}</p>';
    expect(runs(splitMarkup(cut, HTML))).toEqual([]);
  });

  it('decodes entities for the model and escapes the translation again; whitespace entities at the ends stay as written', () => {
    const text = '<td>&nbsp;Tom &amp; Jerry&#160;</td><td>caf&eacute; &lt;3</td>';
    const pieces = splitMarkup(text, HTML);
    expect(runs(pieces)).toEqual(['Tom & Jerry', 'café <3']);
    expect(joinPieces(pieces, ['Tom & Jerry', 'A <b> & C'], 'html')).toBe('<td>&nbsp;Tom &amp; Jerry&#160;</td><td>A &lt;b&gt; &amp; C</td>');
  });

  it('does not repair malformed markup and loses no byte of it: unclosed tags, stray end tags, a bare <', () => {
    const text = '<div><p>Unclosed paragraph <b>bold <i>italic</div> after </span> a < b & c <!-- unclosed comment';
    const pieces = splitMarkup(text, HTML);
    expect(source(pieces)).toBe(text);
    expect(runs(pieces)).toEqual(['Unclosed paragraph', 'bold', 'italic', 'after', 'a < b & c']);
    expect(skeleton(pieces)).toBe('<div><p>• <b>• <i>•</div> • </span> • <!-- unclosed comment');
    // An unclosed element whose content is ignored keeps everything after it.
    expect(runs(splitMarkup('Hello <script>var x = 1; Goodbye', HTML))).toEqual(['Hello']);
  });
});

describe('splitMarkup: xml', () => {
  it('keeps ignore_tags content, Weblate placeholders, CDATA and the declaration; names are case-sensitive', () => {
    const text =
      '<?xml version="1.0" encoding="UTF-8"?><resources><string name="greeting">Hello <b>%1$s</b>, you have %2$d new messages</string>' +
      '<string name="cmd">Run <code>npm install</code>, then open <x id="3"></x>.</string><Code>Keep?</Code><note><![CDATA[a <raw> note]]></note></resources>';
    const pieces = splitMarkup(text, { format: 'xml', ignoreTags: ['code'] });
    expect(source(pieces)).toBe(text);
    expect(runs(pieces)).toEqual(['Hello', ', you have', 'new messages', 'Run', ', then open', 'Keep?']);
  });

  it('escapes translations for XML without HTML entities', () => {
    const pieces = splitMarkup('<t>R&amp;D &apos;s lab</t>', XML);
    expect(runs(pieces)).toEqual(["R&D 's lab"]);
    expect(joinPieces(pieces, ['F&E "Labor"'], 'xml')).toBe('<t>F&amp;E "Labor"</t>');
  });
});

describe('splitMarkup: properties', () => {
  const word = fc.constantFrom('hello', 'big world', 'Tom &amp; Jerry', 'caf&eacute;', ' ', '. ', '\n', '2024', '&nbsp;');
  const markup = fc.constantFrom(
    '<p>', '</p>', '<b>', '</b>', '<br/>', '<br>', '<a href="/x?a=1&amp;b=2" title="t">', '</a>', '<!-- c -->', '<x id="1"/>',
    '<code>', '</code>', '<span translate="no">', '</span>', '<script>', '</script>', '{name}', '{{var}}', '%s', '%1$s', '%(n)d',
    '{n, plural, one {# item} other {# items}}', '<', '&', '}', '<![CDATA[x]]>', '<?pi x?>', '%count%', '${v}', '%%', '<x id="2"></x>', '{', '#', "'",
  );
  const text = fc.array(fc.oneof(word, markup), { maxLength: 25 }).map((parts) => parts.join(''));

  it.each(['text', 'html', 'xml'] as const)('%s: the pieces tile the input, and a translate piece holds no markup or placeholder', (format) => {
    fc.assert(
      fc.property(text, (input) => {
        const pieces = splitMarkup(input, { format, ignoreTags: ['code'] });
        expect(source(pieces)).toBe(input);
        for (const p of pieces) {
          if (p.kind !== 'translate') continue;
          expect(p.text).toMatch(/\p{L}/u);
          expect(p.text.trim()).toBe(p.text);
          // No tag: the only < left in a run is a bare one (not followed by a name, / ! or ?).
          if (format !== 'text') expect(p.raw).toMatch(/^[a-zA-Z0-9 .\n&;#'%$]*(?:<(?![a-z/!?])[a-zA-Z0-9 .\n&;#'%$]*)*$/);
          // Braces are either a kept block or make the whole run kept; a bare % may be text ("100%").
          expect(p.raw).not.toMatch(/[{}]/);
          if (format === 'text') expect(p.raw).not.toContain('<x id');
        }
        // Whatever the translations, every kept piece is in the output, in order.
        const out = fake(pieces, format);
        const shape = new RegExp(`^${pieces.map((p) => (p.kind === 'keep' ? p.text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') : '«[^»]*»')).join('')}$`, 'u');
        expect(out).toMatch(shape);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('layout, detection text and cache text', () => {
  it('gives one row per sentence of each run and assembles outputs back around the kept pieces', () => {
    const pieces = splitMarkup('<p>First one. Second one!</p><p>Third %s here.</p>', HTML);
    const layout = layoutText(pieces, 'html', { locale: 'en', maxChars: 200 });
    expect(layout.rows).toEqual(['First one.', 'Second one!', 'Third', 'here.']);
    expect(layout.assemble(['A', 'B', 'C', 'D'])).toBe('<p>A B</p><p>C %s D</p>');
    expect(() => layout.assemble(['A'])).toThrow(/1 outputs for 4 rows/);
    expect(layoutText(splitMarkup('<br/>', HTML), 'html', { maxChars: 200 }).assemble([])).toBe('<br/>');
    // A sentence without a letter, left by the sentence splitter, is no row either.
    const dot = layoutText(splitMarkup('<b>Example</b>. If it was not you, ignore it.', HTML), 'html', { locale: 'en', maxChars: 200 });
    expect(dot.rows).toEqual(['Example', 'If it was not you, ignore it.']);
    expect(dot.assemble(['X', 'Y'])).toBe('<b>X</b>. Y');
  });

  it('detection reads the runs alone', () => {
    expect(detectionText(splitMarkup('<p>Bonjour <b>{name}</b>, <i>merci</i></p>', HTML))).toBe('Bonjour merci');
  });

  it('caches plain text under the text itself and markup under its format and ignored tags', () => {
    expect(markupCacheText('<b>x</b>')).toBe('<b>x</b>');
    const keys = new Set([markupCacheText('<b>x</b>', HTML), markupCacheText('<b>x</b>', XML), markupCacheText('<b>x</b>', { format: 'xml', ignoreTags: ['b'] }), '<b>x</b>']);
    expect(keys.size).toBe(4);
  });
});
