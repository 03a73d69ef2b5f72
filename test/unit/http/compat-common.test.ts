import { describe, expect, it } from 'vitest';
import { countCharacters, scalar, stringList } from '../../../src/http/compat-common.ts';
import { deeplCode, sourceLanguages, targetLanguages } from '../../../src/http/deepl-languages.ts';
import { detectLanguages } from '../../../src/http/libretranslate-routes.ts';
import type { Detection, Detector } from '../../../src/languages/index.ts';

describe('countCharacters', () => {
  it('counts code points as DeepL bills them: an astral character once, a BMP character once', () => {
    expect(countCharacters(['😀'])).toBe(1);
    expect(countCharacters(['Grüße', '𝄞 ok'])).toBe(9);
    expect(countCharacters([''])).toBe(0);
  });
});

describe('field readers', () => {
  it('scalar takes a form field\'s first value and stringifies JSON numbers and booleans', () => {
    expect(scalar(['1', '0'])).toBe('1');
    expect(scalar(3)).toBe('3');
    expect(scalar(true)).toBe('true');
    expect(scalar({ a: 1 })).toBeUndefined();
    expect(scalar([])).toBeUndefined();
  });

  it('stringList takes a string or an array of strings only', () => {
    expect(stringList('a')).toEqual(['a']);
    expect(stringList(['a', 'b'])).toEqual(['a', 'b']);
    expect(stringList(['a', 1])).toBeNull();
    expect(stringList(7)).toBeNull();
  });
});

describe('DeepL language spelling', () => {
  const catalog = {
    languages: [
      { code: 'en', iso3: 'eng', name: 'English', groups: [1] },
      { code: 'no', iso3: 'nor', name: 'Norwegian', groups: [1] },
      { code: 'pt', iso3: 'por', name: 'Portuguese', groups: [2] },
      { code: 'de', iso3: 'deu', name: 'German', groups: [1] },
    ],
    groups: [],
    pairs: [],
    pivot: 'en',
  };

  it('upper-cases codes and spells Norwegian NB', () => {
    expect(deeplCode('de')).toBe('DE');
    expect(deeplCode('no')).toBe('NB');
    expect(sourceLanguages(catalog).map((l) => l.language)).toEqual(['EN', 'NB', 'PT', 'DE']);
  });

  it('lists English and Portuguese targets only in their regional forms, none with formality', () => {
    const targets = targetLanguages(catalog);
    expect(targets.map((l) => l.language)).toEqual(['EN-GB', 'EN-US', 'NB', 'PT-BR', 'PT-PT', 'DE']);
    expect(targets.every((l) => l.supports_formality === false)).toBe(true);
  });
});

describe('LibreTranslate batch detection (detectLanguages)', () => {
  const fake = (answers: Record<string, Detection>): Detector => ({
    detect: (text) => answers[text],
    engines: [],
    preload: () => {},
    preloadInSteps: async () => {},
    dispose: () => {},
  });
  const und: Detection = { language: 'und', confidence: 0, candidates: [] };

  it('ranks by the average confidence weighted by the length of the texts naming the language', () => {
    const detector = fake({
      short: { language: 'fr', confidence: 0.9, candidates: [] }, // 5 letters
      'a much longer text here': { language: 'es', confidence: 0.6, candidates: [{ language: 'fr', confidence: 0.1 }] }, // 23
    });
    // fr: average 0.5 over 28 of 28 characters -> 0.5; es: 0.6 over 23 of 28 -> 0.49
    expect(detectLanguages(detector, ['short', 'a much longer text here'])).toEqual([
      { confidence: 50, language: 'fr' },
      { confidence: 60, language: 'es' },
    ]);
  });

  it('skips texts without language, and answers en at 0 when no text has one', () => {
    const detector = fake({ '123': und, hallo: { language: 'de', confidence: 0.8, candidates: [] } });
    expect(detectLanguages(detector, ['123', 'hallo'])).toEqual([{ confidence: 80, language: 'de' }]);
    expect(detectLanguages(detector, ['123'])).toEqual([{ confidence: 0, language: 'en' }]);
  });
});
