/**
 * The 50 languages the server supports (DESIGN 1): the 49 non-English languages of the
 * X-ALMA groups plus English. Names are the English names used in the prompt.
 */

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

// code, iso3, name, scripts
const ROWS: ReadonlyArray<readonly [string, string, string, string]> = [
  ['af', 'afr', 'Afrikaans', 'Latn'],
  ['ar', 'ara', 'Arabic', 'Arab'],
  ['az', 'aze', 'Azerbaijani', 'Latn'],
  ['bg', 'bul', 'Bulgarian', 'Cyrl'],
  ['ca', 'cat', 'Catalan', 'Latn'],
  ['cs', 'ces', 'Czech', 'Latn'],
  ['da', 'dan', 'Danish', 'Latn'],
  ['de', 'deu', 'German', 'Latn'],
  ['el', 'ell', 'Greek', 'Grek'],
  ['en', 'eng', 'English', 'Latn'],
  ['es', 'spa', 'Spanish', 'Latn'],
  ['et', 'est', 'Estonian', 'Latn'],
  ['fa', 'fas', 'Persian', 'Arab'],
  ['fi', 'fin', 'Finnish', 'Latn'],
  ['fr', 'fra', 'French', 'Latn'],
  ['gl', 'glg', 'Galician', 'Latn'],
  ['gu', 'guj', 'Gujarati', 'Gujr'],
  ['he', 'heb', 'Hebrew', 'Hebr'],
  ['hi', 'hin', 'Hindi', 'Deva'],
  ['hu', 'hun', 'Hungarian', 'Latn'],
  ['id', 'ind', 'Indonesian', 'Latn'],
  ['is', 'isl', 'Icelandic', 'Latn'],
  ['it', 'ita', 'Italian', 'Latn'],
  ['ja', 'jpn', 'Japanese', 'Jpan'],
  ['ka', 'kat', 'Georgian', 'Geor'],
  ['kk', 'kaz', 'Kazakh', 'Cyrl'],
  ['ko', 'kor', 'Korean', 'Kore'],
  ['ky', 'kir', 'Kyrgyz', 'Cyrl'],
  ['lt', 'lit', 'Lithuanian', 'Latn'],
  ['lv', 'lav', 'Latvian', 'Latn'],
  ['mg', 'mlg', 'Malagasy', 'Latn'],
  ['mk', 'mkd', 'Macedonian', 'Cyrl'],
  ['mr', 'mar', 'Marathi', 'Deva'],
  ['ms', 'msa', 'Malay', 'Latn'],
  ['ne', 'nep', 'Nepali', 'Deva'],
  ['nl', 'nld', 'Dutch', 'Latn'],
  ['no', 'nor', 'Norwegian', 'Latn'],
  ['pl', 'pol', 'Polish', 'Latn'],
  ['pt', 'por', 'Portuguese', 'Latn'],
  ['ro', 'ron', 'Romanian', 'Latn'],
  ['ru', 'rus', 'Russian', 'Cyrl'],
  ['sr', 'srp', 'Serbian', 'Cyrl Latn'],
  ['sv', 'swe', 'Swedish', 'Latn'],
  ['th', 'tha', 'Thai', 'Thai'],
  ['tr', 'tur', 'Turkish', 'Latn'],
  ['uk', 'ukr', 'Ukrainian', 'Cyrl'],
  ['ur', 'urd', 'Urdu', 'Arab'],
  ['uz', 'uzb', 'Uzbek', 'Latn Cyrl'],
  ['vi', 'vie', 'Vietnamese', 'Latn'],
  ['zh', 'zho', 'Chinese', 'Hans Hant'],
];

export const LANGUAGES: readonly LanguageInfo[] = Object.freeze(
  ROWS.map(([code, iso3, name, scripts]) => Object.freeze({ code, iso3, name, scripts: scripts.split(' ') })),
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
