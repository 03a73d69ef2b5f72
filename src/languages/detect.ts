/**
 * Source-language detection over the supported languages: script routing first, then a weighted
 * vote of fastText (lid.176), cld3, eld, franc and hand-written markers among the languages of
 * that script. See bench/detect.ts for the measurements behind the weights and bench/results/.
 */
import { francAll } from 'franc';
import { FRANC_CODES, loadBackends, type Backend, type EngineName } from './backends.ts';
import { markerScores } from './markers.ts';
import { SCRIPT_CANDIDATES, routeScript, type Script } from './script.ts';

export interface Detection {
  /** ISO 639-1 code, or 'und' when the text carries too little language to tell. */
  language: string;
  /** In [0, 1]; 0 for 'und'. A heuristic share of the vote, not a calibrated probability. */
  confidence: number;
  /** Runner-up languages, best first (at most MAX_CANDIDATES), excluding `language`. */
  candidates: Array<{ language: string; confidence: number }>;
}

export interface Detector {
  /** Synchronous and allocation-light; all loading happened in createDetector. */
  detect(text: string): Detection;
  /** Engines this detector combines (for logs and /health). */
  readonly engines: readonly string[];
  dispose(): void;
}

export interface DetectorOptions {
  /** Engines to combine; default all four. */
  engines?: readonly EngineName[];
}

export const UNDETERMINED = 'und';
const MAX_CANDIDATES = 3;
/** Detection looks at most at this many UTF-16 units (eld and cld3 cut at about the same length). */
const MAX_TEXT = 1000;
/** Fewer letters than this (after URLs and e-mail addresses are removed) answers 'und'. */
const MIN_LETTERS = 2;

/**
 * Vote weights, chosen by grid search on the odd-numbered lines of ntrex-50 (full sentences and
 * 3-word snippets, objective 2 x sentence macro + snippet macro) and checked on the even lines;
 * bench/results/detect.md. Scores: fastText log-probability, eld log of its score relative to the
 * best candidate, franc's normalized similarity, cld3's probability for its single answer, and
 * the marker share from markers.ts.
 */
const WEIGHTS: Readonly<Record<EngineName | 'markers', number>> = { fasttext: 1, eld: 2, franc: 4, cld3: 8, markers: 4 };
/** What eld contributes for a language it has no model for (af, gl, id, kk, ky, mg, mk, ne, uz). */
const ELD_MISSING = -1;
/**
 * Per-language offsets, fitted by coordinate ascent on the odd lines (step 0.5, two passes) after
 * the weights above; on the even lines they moved snippet accuracy from 83.1% to 83.9%.
 */
const BIAS: Readonly<Record<string, number>> = {
  af: 1.5, da: 0.5, de: -0.5, is: 5, nl: 0.5, sv: 0.5, es: -1, ro: 1.5, fr: -2, mg: 3.5, vi: 3, cs: 1.5,
  hu: 0.5, lv: 3, pl: 1, et: 3, fi: 1.5, az: 3, uz: 3.5, en: -2, bg: -3.5, mk: 1, ru: -5.5, sr: -1,
  uk: -2, kk: 2, ky: 1, ar: 2.5, hi: 2, mr: -4, no: -2, ca: -1, pt: -2, ms: 1, lt: 2,
};
/**
 * Softmax temperature turning vote scores into confidences; 2 keeps a 3-word id/ms near-tie
 * (margin ~1) at ~0.6 instead of presenting it as certain.
 */
const TEMPERATURE = 2;

const URL_OR_EMAIL = /\b(?:https?:\/\/|www\.)\S+|\S+@\S+\.\S+/giu;
const WORD_SPLIT = /[^\p{L}\p{M}'ʻ’-]+/u;

/**
 * Fast path: fastText's restricted log-probability of its best candidate at least this close to 0
 * (p >= 0.995) on a text of at least FAST_PATH_MIN_LETTERS letters ends detection early.
 */
const FAST_PATH_MIN_LOGP = Math.log(0.995);
const FAST_PATH_MIN_LETTERS = 40;

function fastPathWinner(logp: Float64Array, n: number): boolean {
  for (let i = 0; i < n; i++) if (logp[i] >= FAST_PATH_MIN_LOGP) return true;
  return false;
}

function undetermined(): Detection {
  return { language: UNDETERMINED, confidence: 0, candidates: [] };
}

/** Confidence discount for little evidence: 1 from 24 letters up, 0.5 at 2 letters. */
function lengthFactor(letters: number): number {
  return Math.min(1, 0.5 + letters / 48);
}

export async function createDetector(options: DetectorOptions = {}): Promise<Detector> {
  const engines = options.engines ?? (['fasttext', 'cld3', 'eld', 'franc'] as const);
  const backends: Backend[] = await loadBackends(engines);
  const maxCandidates = SCRIPT_CANDIDATES.Latn.length;
  const total = new Float64Array(maxCandidates);
  const scratch = new Float64Array(maxCandidates);

  function detect(input: string): Detection {
    if (typeof input !== 'string') return undetermined();
    const text = (input.length > MAX_TEXT ? input.slice(0, MAX_TEXT) : input).replace(URL_OR_EMAIL, ' ');
    const route = routeScript(text);
    if (route.script === undefined || route.letters < MIN_LETTERS || route.script === 'Other') return undetermined();
    const candidates = SCRIPT_CANDIDATES[route.script as Exclude<Script, 'Other'>];
    if (candidates.length === 1) {
      // A script of its own decides; the share of other-script letters (quotes, names) lowers it.
      return { language: candidates[0], confidence: round(lengthFactor(route.letters * 4) * route.share), candidates: [] };
    }

    const n = candidates.length;
    for (let i = 0; i < n; i++) total[i] = BIAS[candidates[i]] ?? 0;
    for (const b of backends) {
      b.score(text, candidates, scratch);
      if (b.name === 'fasttext' && route.letters >= FAST_PATH_MIN_LETTERS && fastPathWinner(scratch, n)) {
        // fastText alone is sure of a long text: skip the slower engines. Its effect on det/s is not
        // yet measured separately (bench/results/detect.md shows the end-to-end rate).
        return finish(candidates, scratch, n, route.letters, route.share);
      }
      const w = WEIGHTS[b.name];
      for (let i = 0; i < n; i++) {
        const v = scratch[i];
        total[i] += Number.isNaN(v) ? (b.name === 'eld' ? ELD_MISSING : 0) : w * v;
      }
    }
    const lower = text.toLowerCase();
    markerScores(lower.split(WORD_SPLIT).filter((w) => w.length > 0), lower, candidates, scratch);
    for (let i = 0; i < n; i++) total[i] += WEIGHTS.markers * scratch[i];

    return finish(candidates, total, n, route.letters, route.share);
  }

  /** Softmax over the candidates' scores, then the top entries. */
  function finish(candidates: readonly string[], total: Float64Array, n: number, letters: number, share: number): Detection {
    let max = -Infinity;
    for (let i = 0; i < n; i++) if (total[i] > max) max = total[i];
    let sum = 0;
    for (let i = 0; i < n; i++) {
      scratch[i] = Math.exp((total[i] - max) / TEMPERATURE);
      sum += scratch[i];
    }
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scratch[b] - scratch[a]);
    const scale = (lengthFactor(letters) * share) / sum;
    const best = order[0];
    return {
      language: candidates[best],
      confidence: round(scratch[best] * scale),
      candidates: order.slice(1, 1 + MAX_CANDIDATES).map((i) => ({ language: candidates[i], confidence: round(scratch[i] * scale) })),
    };
  }

  return {
    detect,
    engines: Object.freeze([...engines]),
    dispose() {
      for (const b of backends) b.dispose();
    },
  };
}

function round(x: number): number {
  return Math.round(Math.min(1, Math.max(0, x)) * 1e4) / 1e4;
}

const FRANC_ONLY = Object.values(FRANC_CODES).concat('nno');
const FRANC_BACK = new Map<string, string>(Object.entries(FRANC_CODES).map(([k, v]) => [v, k]));
FRANC_BACK.set('nno', 'no');

/**
 * franc alone, restricted to the supported languages (its own script handling, no routing or
 * markers): the baseline bench/detect.ts compares against.
 */
export function createFrancBaseline(): Detector {
  return {
    engines: ['franc'],
    dispose() {},
    detect(text: string): Detection {
      const all = francAll(text, { only: FRANC_ONLY, minLength: 1 });
      const top = all[0];
      if (!top || top[0] === 'und') return undetermined();
      const sum = all.reduce((s, [, v]) => s + v, 0) || 1;
      return {
        language: FRANC_BACK.get(top[0]) ?? UNDETERMINED,
        confidence: round(top[1] / sum),
        candidates: all.slice(1, 1 + MAX_CANDIDATES).map(([c, v]) => ({ language: FRANC_BACK.get(c) ?? UNDETERMINED, confidence: round(v / sum) })),
      };
    },
  };
}
