/**
 * Normalization of what users send in language fields: ISO 639-1/-2/-3 codes, BCP-47 tags with
 * script and region (`pt-BR`, `zh-Hans`, `sr-Cyrl`), Norwegian `nb`/`nn`, deprecated aliases
 * (`iw`, `in`, `mo`), case, whitespace and `_` separators, and English names ("German").
 */
import { XalmaError } from '../errors.ts';
import { LANGUAGES, SUPPORTED_CODES, isSupported, languageInfo } from './table.ts';

export interface NormalizedLanguage {
  /** Canonical ISO 639-1 code of a supported language. */
  code: string;
  /** What the caller sent, unchanged. */
  input: string;
  /** Set when the input names a more specific form of the language (`pt-BR`, `nb`, `zh-Hant`, `arb`). */
  variant?: string;
}

/** Longest field value we look at; anything longer is not a language name or tag. */
const MAX_INPUT_LENGTH = 64;

/**
 * Primary subtags that are not the language's own 639-1/639-3 code: ISO 639-2/B codes,
 * deprecated 639-1 codes, and individual languages inside a supported macrolanguage.
 * `true` in the third slot marks codes that denote a variant worth reporting.
 */
const ALIASES: ReadonlyArray<readonly [string, string, boolean]> = [
  // ISO 639-2/B bibliographic codes
  ['ger', 'de', false], ['fre', 'fr', false], ['dut', 'nl', false], ['chi', 'zh', false],
  ['cze', 'cs', false], ['gre', 'el', false], ['per', 'fa', false], ['rum', 'ro', false],
  ['ice', 'is', false], ['mac', 'mk', false], ['geo', 'ka', false], ['may', 'ms', false],
  // deprecated ISO 639-1 codes still sent by old clients (Java locales, Android)
  ['iw', 'he', false], ['in', 'id', false], ['mo', 'ro', true],
  // Norwegian written standards
  ['nb', 'no', true], ['nn', 'no', true], ['nob', 'no', true], ['nno', 'no', true],
  // individual languages of supported macrolanguages
  ['arb', 'ar', true], ['cmn', 'zh', true], ['pes', 'fa', true], ['prs', 'fa', true],
  ['zsm', 'ms', true], ['zlm', 'ms', true], ['uzn', 'uz', true], ['azj', 'az', true],
  ['ekk', 'et', true], ['lvs', 'lv', true], ['npi', 'ne', true], ['plt', 'mg', true],
];

/** Extra English names beyond the prompt names in the table (lowercase). */
const NAME_ALIASES: ReadonlyArray<readonly [string, string, string?]> = [
  ['farsi', 'fa'], ['mandarin', 'zh', 'cmn'], ['simplified chinese', 'zh', 'zh-Hans'],
  ['traditional chinese', 'zh', 'zh-Hant'], ['kirghiz', 'ky'], ['kyrgyz', 'ky'], ['kirgiz', 'ky'],
  ['norwegian bokmal', 'no', 'nb'], ['norwegian bokmål', 'no', 'nb'], ['bokmal', 'no', 'nb'], ['bokmål', 'no', 'nb'],
  ['norwegian nynorsk', 'no', 'nn'], ['nynorsk', 'no', 'nn'], ['castilian', 'es'], ['flemish', 'nl', 'nl-BE'],
  ['moldavian', 'ro', 'mo'], ['moldovan', 'ro', 'mo'], ['azeri', 'az'], ['brazilian portuguese', 'pt', 'pt-BR'],
  ['modern greek', 'el'], ['greek (modern)', 'el'], ['malagasy', 'mg'], ['bahasa indonesia', 'id'], ['bahasa melayu', 'ms'],
];

const codeMap = new Map<string, { code: string; variant: boolean }>();
for (const l of LANGUAGES) {
  codeMap.set(l.code, { code: l.code, variant: false });
  codeMap.set(l.iso3, { code: l.code, variant: false });
}
for (const [alias, code, variant] of ALIASES) codeMap.set(alias, { code, variant });

const nameMap = new Map<string, { code: string; variant?: string }>();
for (const l of LANGUAGES) nameMap.set(l.name.toLowerCase(), { code: l.code });
for (const [name, code, variant] of NAME_ALIASES) nameMap.set(name, { code, variant });

/** Scripts accepted in tags per language, beyond the table's list (Hani covers both Chinese forms). */
const EXTRA_SCRIPTS: Readonly<Record<string, readonly string[]>> = {
  zh: ['Hani'], ja: ['Hani', 'Hira', 'Kana', 'Hrkt'], ko: ['Hang', 'Hani'],
};

/** Tag-shaped input: letters/digits separated by '-' (after '_' -> '-'). */
const TAG_RE = /^[a-z]{2,3}(?:-[a-z0-9]{1,8})*$/i;
/** Name-shaped input: letters (any script), spaces, apostrophes, parentheses, hyphens. */
const NAME_RE = /^[\p{L}\p{M}][\p{L}\p{M} '()-]*$/u;

function unsupported(input: string, detail: string): XalmaError {
  return new XalmaError('LANGUAGE_UNSUPPORTED', detail, { input, supported: [...SUPPORTED_CODES] });
}

function invalid(detail: string, input?: string): XalmaError {
  return new XalmaError('LANGUAGE_INVALID', detail, { ...(input === undefined ? {} : { input }), supported: [...SUPPORTED_CODES] });
}

/**
 * Maps a user's language field to a supported language. Throws XalmaError LANGUAGE_INVALID for
 * values that are not a language code or name at all, LANGUAGE_UNSUPPORTED for well-formed ones
 * naming a language (or script) we do not serve; never anything else.
 */
export function normalizeLanguage(input: string): NormalizedLanguage {
  if (typeof input !== 'string') throw invalid(`expected a string, got ${input === null ? 'null' : typeof input}`);
  const trimmed = input.trim();
  if (trimmed.length === 0) throw invalid('empty', input);
  if (trimmed.length > MAX_INPUT_LENGTH) throw invalid(`longer than ${MAX_INPUT_LENGTH} characters`, input.slice(0, MAX_INPUT_LENGTH));
  const collapsed = trimmed.replace(/\s+/g, ' ');

  const tag = collapsed.replace(/_/g, '-');
  if (TAG_RE.test(tag)) {
    const fromTag = fromBcp47(tag, input);
    if (fromTag) return fromTag;
  }
  if (NAME_RE.test(collapsed)) {
    const named = nameMap.get(collapsed.toLowerCase());
    if (named) return withVariant({ code: named.code, input }, named.variant);
    // A tag-shaped value (e.g. "xx", "tlh", "en-Zzzz") or a word: well-formed, not ours.
    throw unsupported(input, JSON.stringify(collapsed));
  }
  throw invalid(`${JSON.stringify(collapsed)} is not a language code or name`, input);
}

function withVariant(result: NormalizedLanguage, variant: string | undefined): NormalizedLanguage {
  return variant === undefined ? result : { ...result, variant };
}

/**
 * Parses language[-Script][-REGION][-...] and returns the supported language, undefined when the
 * primary subtag is unknown (the caller then tries names), or throws for an unsupported script.
 */
function fromBcp47(tag: string, input: string): NormalizedLanguage | undefined {
  const parts = tag.split('-');
  const primary = parts[0].toLowerCase();
  const hit = codeMap.get(primary);
  if (!hit) return undefined;
  const info = languageInfo(hit.code);
  if (!info || !isSupported(hit.code)) return undefined;

  let script: string | undefined;
  let region: string | undefined;
  let i = 1;
  if (i < parts.length && /^[a-z]{4}$/i.test(parts[i])) {
    script = parts[i][0].toUpperCase() + parts[i].slice(1).toLowerCase();
    i++;
  }
  if (i < parts.length && /^(?:[a-z]{2}|\d{3})$/i.test(parts[i])) {
    region = parts[i].toUpperCase();
    i++;
  }
  if (script !== undefined && !info.scripts.includes(script) && !(EXTRA_SCRIPTS[hit.code] ?? []).includes(script)) {
    throw unsupported(input, `${info.name} in script ${script} (supported: ${info.scripts.join(', ')})`);
  }
  // Later subtags (variants, extensions, private use) do not change which model serves the text.
  const base = hit.variant ? primary : info.code;
  const pieces = [base, script, region].filter((p): p is string => p !== undefined);
  const variant = hit.variant || pieces.length > 1 ? pieces.join('-') : undefined;
  return withVariant({ code: info.code, input }, variant);
}
