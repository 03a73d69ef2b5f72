import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isXalmaError } from '../../../src/errors.ts';
import { LANGUAGES, SUPPORTED_CODES, languageName, normalizeLanguage } from '../../../src/languages/index.ts';

function codeOf(input: string): string {
  return normalizeLanguage(input).code;
}

function errorCode(input: unknown): string | undefined {
  try {
    normalizeLanguage(input as string);
    return undefined;
  } catch (err) {
    if (!isXalmaError(err)) throw err;
    return err.code;
  }
}

describe('language table', () => {
  it('has the 50 supported languages with unique 639-1 and 639-3 codes', () => {
    expect(LANGUAGES).toHaveLength(50);
    expect(new Set(LANGUAGES.map((l) => l.code)).size).toBe(50);
    expect(new Set(LANGUAGES.map((l) => l.iso3)).size).toBe(50);
    for (const l of LANGUAGES) {
      expect(l.code).toMatch(/^[a-z]{2}$/);
      expect(l.iso3).toMatch(/^[a-z]{3}$/);
      expect(l.scripts.length).toBeGreaterThan(0);
    }
  });

  it('gives the English prompt name', () => {
    expect(languageName('de')).toBe('German');
    expect(languageName('zh')).toBe('Chinese');
    expect(languageName('no')).toBe('Norwegian');
  });
});

describe('normalizeLanguage', () => {
  it('maps every supported 639-1 code, 639-3 code and English name to itself, without a variant', () => {
    for (const l of LANGUAGES) {
      for (const input of [l.code, l.iso3, l.name, l.code.toUpperCase(), ` ${l.name.toLowerCase()} `]) {
        const r = normalizeLanguage(input);
        expect(r).toEqual({ code: l.code, input });
      }
    }
  });

  it('maps regional and script variants to their language and reports the variant', () => {
    expect(normalizeLanguage('pt-BR')).toEqual({ code: 'pt', input: 'pt-BR', variant: 'pt-BR' });
    expect(normalizeLanguage('zh-Hans')).toMatchObject({ code: 'zh', variant: 'zh-Hans' });
    expect(normalizeLanguage('zh_cn')).toMatchObject({ code: 'zh', variant: 'zh-CN' });
    expect(normalizeLanguage('ZH-hant-tw')).toMatchObject({ code: 'zh', variant: 'zh-Hant-TW' });
    expect(normalizeLanguage('sr-Cyrl')).toMatchObject({ code: 'sr', variant: 'sr-Cyrl' });
    expect(normalizeLanguage('sr-latn-RS')).toMatchObject({ code: 'sr', variant: 'sr-Latn-RS' });
    expect(normalizeLanguage('nb')).toMatchObject({ code: 'no', variant: 'nb' });
    expect(normalizeLanguage('nn-NO')).toMatchObject({ code: 'no', variant: 'nn-NO' });
    expect(normalizeLanguage('en-US')).toMatchObject({ code: 'en', variant: 'en-US' });
    expect(normalizeLanguage('es-419')).toMatchObject({ code: 'es', variant: 'es-419' });
  });

  it('maps legacy and bibliographic aliases', () => {
    expect(codeOf('iw')).toBe('he');
    expect(codeOf('in')).toBe('id');
    expect(codeOf('ger')).toBe('de');
    expect(codeOf('fre')).toBe('fr');
    expect(codeOf('chi')).toBe('zh');
    expect(codeOf('Farsi')).toBe('fa');
    expect(codeOf('Mandarin')).toBe('zh');
    expect(normalizeLanguage('iw').variant).toBeUndefined();
  });

  it('rejects unsupported languages and scripts with LANGUAGE_UNSUPPORTED listing the supported codes', () => {
    for (const input of ['xx', 'tlh', 'hr', 'Klingon', 'en-Cyrl', 'yue', 'sw']) {
      try {
        normalizeLanguage(input);
        expect.unreachable(`${input} should be unsupported`);
      } catch (err) {
        expect(isXalmaError(err, 'LANGUAGE_UNSUPPORTED')).toBe(true);
        if (isXalmaError(err)) {
          expect(err.status).toBe(400);
          expect(err.details?.supported).toEqual([...SUPPORTED_CODES]);
        }
      }
    }
  });

  it('rejects empty, non-string and junk input with LANGUAGE_INVALID', () => {
    for (const input of ['', '   ', '@@', 'de;drop', 'a'.repeat(200), '12', '\u0000de', null, undefined, 42, {}]) {
      expect(errorCode(input)).toBe('LANGUAGE_INVALID');
    }
  });

  it('never throws anything but a coded language error, for any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (s) => {
        const code = errorCode(s);
        expect(code === undefined || code === 'LANGUAGE_INVALID' || code === 'LANGUAGE_UNSUPPORTED').toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips: the normalized code normalizes to itself, under any case and padding', () => {
    const inputs = LANGUAGES.flatMap((l) => [l.code, l.iso3, l.name]).concat(['pt-BR', 'zh-Hans', 'sr-Cyrl', 'nb', 'nn', 'iw', 'in']);
    fc.assert(
      fc.property(
        fc.constantFrom(...inputs),
        fc.array(fc.boolean(), { minLength: 30, maxLength: 30 }),
        fc.constantFrom('', ' ', '\t', '  '),
        (input, upper, pad) => {
          const cased = [...input].map((ch, i) => (upper[i % upper.length] ? ch.toUpperCase() : ch.toLowerCase())).join('');
          const first = normalizeLanguage(pad + cased + pad);
          expect(normalizeLanguage(first.code).code).toBe(first.code);
          if (first.variant) expect(normalizeLanguage(first.variant).code).toBe(first.code);
          expect(SUPPORTED_CODES).toContain(first.code);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
