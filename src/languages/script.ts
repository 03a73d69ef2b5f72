/**
 * Unicode script routing, the first stage of detection: a script used by one supported language
 * decides it; the others narrow the candidates (Cyrillic -> bg/mk/ru/sr/uk/kk/ky, ...).
 * Code-point ranges instead of \p{Script=} regexes: one switch per character keeps routing under
 * a microsecond for a sentence.
 */

export type Script =
  | 'Latn' | 'Cyrl' | 'Arab' | 'Deva' | 'Grek' | 'Hebr' | 'Geor' | 'Thai' | 'Gujr' | 'Hang' | 'Kana' | 'Hani' | 'Other';

/** Candidate languages per script (before the manifest-independent 50 are narrowed further). */
export const SCRIPT_CANDIDATES: Readonly<Record<Exclude<Script, 'Other'>, readonly string[]>> = {
  Latn: ['af', 'az', 'ca', 'cs', 'da', 'de', 'en', 'es', 'et', 'fi', 'fr', 'gl', 'hu', 'id', 'is', 'it', 'lt', 'lv', 'mg', 'ms', 'nl', 'no', 'pl', 'pt', 'ro', 'sv', 'tr', 'uz', 'vi'],
  Cyrl: ['bg', 'kk', 'ky', 'mk', 'ru', 'sr', 'uk'],
  Arab: ['ar', 'fa', 'ur'],
  Deva: ['hi', 'mr', 'ne'],
  Grek: ['el'],
  Hebr: ['he'],
  Geor: ['ka'],
  Thai: ['th'],
  Gujr: ['gu'],
  Hang: ['ko'],
  Kana: ['ja'],
  Hani: ['zh'],
};

export function scriptOf(cp: number): Script | undefined {
  if (cp < 0x80) return (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a) ? 'Latn' : undefined;
  if (cp >= 0xc0 && cp <= 0x24f) return cp === 0xd7 || cp === 0xf7 ? undefined : 'Latn';
  if (cp >= 0x370 && cp <= 0x3ff) return 'Grek';
  if (cp >= 0x400 && cp <= 0x52f) return 'Cyrl';
  if (cp >= 0x590 && cp <= 0x5ff) return 'Hebr';
  if (cp >= 0x600 && cp <= 0x6ff) return cp >= 0x660 && cp <= 0x669 ? undefined : 'Arab'; // Arabic-Indic digits
  if (cp >= 0x750 && cp <= 0x77f) return 'Arab';
  if (cp >= 0x8a0 && cp <= 0x8ff) return 'Arab';
  if (cp >= 0x900 && cp <= 0x97f) return cp >= 0x966 && cp <= 0x96f ? undefined : 'Deva';
  if (cp >= 0xa80 && cp <= 0xaff) return cp >= 0xae6 && cp <= 0xaef ? undefined : 'Gujr';
  if (cp >= 0xe00 && cp <= 0xe7f) return cp >= 0xe50 && cp <= 0xe59 ? undefined : 'Thai';
  if (cp >= 0x10a0 && cp <= 0x10ff) return 'Geor';
  if (cp >= 0x1100 && cp <= 0x11ff) return 'Hang';
  if (cp >= 0x1c80 && cp <= 0x1c8f) return 'Cyrl';
  if (cp >= 0x1c90 && cp <= 0x1cbf) return 'Geor';
  if (cp >= 0x1e00 && cp <= 0x1eff) return 'Latn';
  if (cp >= 0x1f00 && cp <= 0x1fff) return 'Grek';
  if (cp >= 0x2c60 && cp <= 0x2c7f) return 'Latn';
  if (cp >= 0x2d00 && cp <= 0x2d2f) return 'Geor';
  if (cp >= 0x2de0 && cp <= 0x2dff) return 'Cyrl';
  if (cp === 0x3005) return 'Hani'; // 々, the kanji repetition mark
  if (cp >= 0x3040 && cp <= 0x30ff) return cp === 0x30fb || cp === 0x30fc ? undefined : 'Kana'; // ・ and ー are shared
  if (cp >= 0x3130 && cp <= 0x318f) return 'Hang';
  if (cp >= 0x31f0 && cp <= 0x31ff) return 'Kana';
  if (cp >= 0x3400 && cp <= 0x4dbf) return 'Hani';
  if (cp >= 0x4e00 && cp <= 0x9fff) return 'Hani';
  if (cp >= 0xa640 && cp <= 0xa69f) return 'Cyrl';
  if (cp >= 0xa720 && cp <= 0xa7ff) return 'Latn';
  if (cp >= 0xa8e0 && cp <= 0xa8ff) return 'Deva';
  if (cp >= 0xa960 && cp <= 0xa97f) return 'Hang';
  if (cp >= 0xac00 && cp <= 0xd7ff) return 'Hang';
  if (cp >= 0xf900 && cp <= 0xfaff) return 'Hani';
  if (cp >= 0xfb1d && cp <= 0xfb4f) return 'Hebr';
  if (cp >= 0xfb50 && cp <= 0xfdff) return 'Arab';
  if (cp >= 0xfe70 && cp <= 0xfeff) return 'Arab';
  if (cp >= 0xff21 && cp <= 0xff3a) return 'Latn';
  if (cp >= 0xff41 && cp <= 0xff5a) return 'Latn';
  if (cp >= 0xff66 && cp <= 0xff9f) return 'Kana';
  if (cp >= 0x20000 && cp <= 0x3134f) return 'Hani';
  return /\p{L}/u.test(String.fromCodePoint(cp)) ? 'Other' : undefined;
}

export interface ScriptRoute {
  /** Dominant script, after the kana/hangul rules below; undefined when no letters. */
  script: Script | undefined;
  /** Letters counted (any script). */
  letters: number;
  /** Share of letters in the routed script (kana + han count together for Japanese, hangul + han for Korean). */
  share: number;
}

/**
 * Kanji in forms only Japanese uses: shinjitai that differ from both simplified and traditional
 * Chinese (気, not 气 or 氣), kokuji (働, 込, 畑) and 々. Written from the writing systems, not
 * from data. Han text with them and without kana ("国立気象局", "午前中々") is Japanese.
 */
const JAPANESE_ONLY_HAN = new Set(
  Array.from(
    '気圧関駅県広円図売読経対発変戦実権転続総価済労働込歳様団営覚挙帰検険験鉄拡焼楽薬訳軽満黒徳従歩頼緑塩捜査児畑峠枠栃匂駆戸沢択辺両仏囲隠恵穏縄蔵壊懐帯郷掲渓徴聴庁斎剤摂粋酔雑霊齢鶏々',
    (c) => c.codePointAt(0) as number,
  ),
);
/** Han letters up to which one Japanese-only kanji decides; above, they must be 1 in 20. */
const SHORT_HAN = 24;

const counts = new Int32Array(13);
const ORDER: readonly Script[] = ['Latn', 'Cyrl', 'Arab', 'Deva', 'Grek', 'Hebr', 'Geor', 'Thai', 'Gujr', 'Hang', 'Kana', 'Hani', 'Other'];
const INDEX = new Map(ORDER.map((s, i) => [s, i]));

/** Share of the letters from which a non-Latin script outranks a Latin majority. */
const NON_LATIN_MIN_SHARE = 0.2;

/** Counts letters per script; any kana (or Japanese-only kanji) makes Han text Japanese, any hangul makes it Korean. */
export function routeScript(text: string): ScriptRoute {
  counts.fill(0);
  let letters = 0;
  let japaneseHan = 0;
  for (let i = 0; i < text.length; i++) {
    let cp = text.charCodeAt(i);
    if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < text.length) {
      cp = text.codePointAt(i) ?? cp;
      i++;
    }
    const s = scriptOf(cp);
    if (s === undefined) continue;
    counts[INDEX.get(s) as number]++;
    letters++;
    if (s === 'Hani' && JAPANESE_ONLY_HAN.has(cp)) japaneseHan++;
  }
  if (letters === 0) return { script: undefined, letters: 0, share: 0 };
  const han = counts[11];
  const kana = counts[10];
  const hang = counts[9];
  // Japanese mixes kana and kanji; Korean may carry hanja. Chinese has neither kana nor hangul.
  if (kana > 0 && kana + han >= hang) counts[10] += han;
  else if (hang === 0 && japaneseHan > 0 && (han <= SHORT_HAN || japaneseHan * 20 >= han)) counts[10] += han;
  else if (hang > 0 && hang + han > kana) counts[9] += han;
  let best = 0;
  for (let i = 1; i < ORDER.length; i++) if (counts[i] > counts[best]) best = i;
  if (best === 0 && (kana > 0 || hang > 0)) {
    // Kana and hangul belong to one language each and are not quoted in Latin-script text the way
    // Latin names are quoted in Japanese or Korean ("Scott Robinsonが"): any of it decides.
    best = kana >= hang ? 10 : 9;
  } else if (best === 0) {
    // Latin inside another script's text is mostly names and brands ("CBS 为 310 万、NBC 为 294万"),
    // while the reverse is rare: a non-Latin script with a fair share of the letters wins.
    let other = 1;
    for (let i = 2; i < ORDER.length - 1; i++) if (counts[i] > counts[other]) other = i;
    if (counts[other] >= NON_LATIN_MIN_SHARE * letters) best = other;
  }
  return { script: ORDER[best], letters, share: counts[best] / letters };
}
