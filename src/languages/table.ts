/**
 * The 50 languages the server supports (DESIGN 1): the 49 non-English languages of the
 * X-ALMA groups plus English. Names are the English names used in the prompt. The rows are
 * defined once in model/xalma-languages.ts; this file gives the lookups.
 */
import { XALMA_LANGUAGES } from '../model/xalma-languages.ts';

export interface LanguageInfo {
  /** ISO 639-1 code; the server's canonical code. */
  code: string;
  /** ISO 639-3 code (the macrolanguage code where one exists, e.g. `msa`, `fas`, `zho`). */
  iso3: string;
  /** English name as written in the X-ALMA prompt. */
  name: string;
  /** ISO 15924 scripts the language is written in; the first is the one the model was trained on. */
  scripts: string[];
}

export const LANGUAGES: readonly LanguageInfo[] = Object.freeze(
  XALMA_LANGUAGES.map(([code, iso3, name, scripts]) => Object.freeze({ code, iso3, name, scripts: scripts.split(' ') })),
);

const byCode = new Map<string, LanguageInfo>(LANGUAGES.map((l) => [l.code, l]));

/** Sorted ISO 639-1 codes of the supported languages (used in error details). */
export const SUPPORTED_CODES: readonly string[] = Object.freeze(LANGUAGES.map((l) => l.code).sort());

export function isSupported(code: string): boolean {
  return byCode.has(code);
}

/** The entry for a canonical code, or undefined. */
export function languageInfo(code: string): LanguageInfo | undefined {
  return byCode.get(code);
}

/** English name for a canonical code (as used in the prompt); the code itself when unknown. */
export function languageName(code: string): string {
  return byCode.get(code)?.name ?? code;
}
