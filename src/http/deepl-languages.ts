/**
 * This model's languages in DeepL's spelling (GET /v2/languages, detected_source_language):
 * upper-case codes, Norwegian as NB; as targets, English, Portuguese and Chinese only in the
 * forms DeepL lists (EN-GB/EN-US, PT-BR/PT-PT, ZH/ZH-HANS), since DeepL clients refuse or
 * deprecate the bare EN and PT. A regional target is translated as its language: the model has
 * one English and one Portuguese.
 */
import type { LanguageCatalog } from './compat-common.ts';

export interface DeepLLanguage {
  language: string;
  name: string;
  /** Target languages only; false everywhere: the model has no formality control. */
  supports_formality?: boolean;
}

const SPELLING: Readonly<Record<string, string>> = { no: 'NB' };

const TARGET_FORMS: Readonly<Record<string, ReadonlyArray<readonly [string, string]>>> = {
  en: [['EN-GB', 'English (British)'], ['EN-US', 'English (American)']],
  pt: [['PT-BR', 'Portuguese (Brazilian)'], ['PT-PT', 'Portuguese (European)']],
  zh: [['ZH', 'Chinese (simplified)'], ['ZH-HANS', 'Chinese (simplified)']],
};

/** Our canonical code in DeepL's spelling. */
export function deeplCode(code: string): string {
  return SPELLING[code] ?? code.toUpperCase();
}

export function sourceLanguages(catalog: LanguageCatalog): DeepLLanguage[] {
  return catalog.languages.map((l) => ({ language: deeplCode(l.code), name: l.name }));
}

export function targetLanguages(catalog: LanguageCatalog): DeepLLanguage[] {
  return catalog.languages.flatMap((l) => {
    const forms = TARGET_FORMS[l.code] ?? [[deeplCode(l.code), l.name] as const];
    return forms.map(([language, name]) => ({ language, name, supports_formality: false }));
  });
}
