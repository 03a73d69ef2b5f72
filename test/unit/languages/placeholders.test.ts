import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { splitPlaceholders, type Span } from '../../../src/languages/placeholders.ts';

/** The text spans alone: what may reach the model. */
const texts = (spans: Span[]) => spans.filter((s) => !s.keep).map((s) => s.text);
const kept = (spans: Span[]) => spans.filter((s) => s.keep).map((s) => s.text);

describe('splitPlaceholders', () => {
  it('tiles any run byte for byte, alternating keep and text spans', () => {
    const part = fc.oneof(
      fc.string(),
      fc.constantFrom('{', '}', '{name}', '{{var}}', '{{{raw}}}', '${x}', '%', '%s', '%1$s', '%(n)d', '%%', '%count%', '%1', '#', "'", '<x id="1"/>', '<x id="2"></x>', '<x', ' ', 'word'),
      fc.constantFrom('{n, plural, one {# item} other {# items}}', '{g, select, male {he} other {they}}', '{n, plural, offset:1 =0 {none} other {{n} and #}}'),
    );
    fc.assert(
      fc.property(fc.array(part, { maxLength: 20 }), (parts) => {
        const run = parts.join('');
        const spans = splitPlaceholders(run);
        expect(spans.map((s) => s.text).join('')).toBe(run);
        spans.forEach((s, i) => {
          expect(s.text.length).toBeGreaterThan(0);
          if (i > 0) expect(s.keep).not.toBe(spans[i - 1].keep);
        });
      }),
      { numRuns: 1000 },
    );
  });

  it.each([
    // gettext / Weblate
    ['%(count)s files were deleted from %(folder)s', ['%(count)s', '%(folder)s'], [' files were deleted from ']],
    ['Uploaded %1$s of %2$s (%3$.1f%%)', ['%1$s', '%2$s', '%3$.1f%%'], ['Uploaded ', ' of ', ' (', ')']],
    ['%d new messages, %s!', ['%d', '%s'], [' new messages, ', '!']],
    ['Width: %dpx', ['%d'], ['Width: ', 'px']],
    // i18next / Angular / Vue, JS templates
    ['Welcome back, {{ user.name }}!', ['{{ user.name }}'], ['Welcome back, ', '!']],
    ['Total: ${amount} due {date}', ['${amount}', '{date}'], ['Total: ', ' due ']],
    // Symfony, Qt
    ['%count% items in your cart', ['%count%'], [' items in your cart']],
    // A closing % that opens a printf format is not Symfony's (found by the property test in markup.test.ts).
    ['%shello%(n)d', ['%s', '%(n)d'], ['hello']],
    ['%count%%(n)d left', ['%count%%(n)d'], [' left']],
    ['Copy %1 to %2', ['%1', '%2'], ['Copy ', ' to ']],
    // Weblate's placeholder element in plain text
    ['Hello <x id="0"/>, you have <x id="1"></x> new followers', ['<x id="0"/>', '<x id="1"></x>'], ['Hello ', ', you have ', ' new followers']],
  ])('keeps the placeholders of %j', (run, keeps, rest) => {
    const spans = splitPlaceholders(run);
    for (const k of keeps) expect(kept(spans).join('|')).toContain(k);
    expect(texts(spans)).toEqual(rest);
  });

  it('leaves percent signs that are not formats in the text ("100% sure", "50 %")', () => {
    expect(splitPlaceholders('We are 100% sure, 50 % off')).toEqual([{ keep: false, text: 'We are 100% sure, 50 % off' }]);
  });

  it('takes an ICU plural apart: header, selectors, braces and # kept, message texts translated one by one', () => {
    const run = '{count, plural, =0 {No new messages} one {# new message} other {# new messages}}';
    const spans = splitPlaceholders(run);
    expect(texts(spans)).toEqual(['No new messages', ' new message', ' new messages']);
    expect(kept(spans)).toEqual(['{count, plural, =0 {', '} one {#', '} other {#', '}}']);
  });

  it('takes apart nested ICU (select inside plural, offset, nested simple argument)', () => {
    const run = '{gender, select, female {{n, plural, offset:1 one {She liked it} other {She and {others} liked it}}} other {They liked it}}';
    const spans = splitPlaceholders(run);
    expect(spans.map((s) => s.text).join('')).toBe(run);
    expect(texts(spans)).toEqual(['She liked it', 'She and ', ' liked it', 'They liked it']);
    expect(kept(spans).join('')).toContain('{others}');
  });

  it('keeps an ICU block whole when it does not parse (quoting, no message, a simple argument)', () => {
    for (const run of ["{n, plural, one {'#' is a hash} other {# items}}", '{n, plural, one}', '{price, number, ::currency/EUR}', '{n, plural, one {x} other {y} stray}']) {
      expect(splitPlaceholders(run)).toEqual([{ keep: true, text: run }]);
    }
  });

  it('keeps a run with an unmatched brace whole (an ICU message cut by tags must not reach the model)', () => {
    for (const run of ['{count, plural, one {', ' item} other {# items}}', 'Press } to close']) {
      expect(splitPlaceholders(run)).toEqual([{ keep: true, text: run }]);
    }
  });
});
